/* window.c — the window every lesson shares. Training runs on a worker thread; after every
 * step (every few while running) it copies what the dashboard shows into a snapshot under a
 * lock held only for that copy, and the UI thread draws its own copy of the latest snapshot
 * and reads the keyboard, so the window never waits on a step, whatever the model size.
 *
 * The UI asks the worker for work through a queue of commands (steps, a new batch, a reset,
 * an export, a probe, a setting), run in the order given, so no key press is lost. Every
 * forward pass, the probe's included, runs on the worker, outside the lock. */
#define _GNU_SOURCE /* realpath */
#include <SDL.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lessons/common/pretrained.h"
#include "lessons/common/queue.h"
#include "lessons/common/trained.h"
#include "lessons/common/view.h"

typedef struct App {
    Run *r;
    const LessonView *view;
    pthread_t worker;
    pthread_mutex_t lock;         /* guards the queue, the snapshot, the probe answer, message */
    pthread_cond_t wake;
    KitQueue queue;
    bool diverged;
    _Atomic bool stop;            /* set by the UI to end a long run of steps at once */
    _Atomic bool interrupt;       /* R: drop the steps under way and queued, reset at once */
    _Atomic long steps_done, steps_total;   /* the command of several steps under way */
    _Atomic bool running;         /* Enter: the worker trains continuously */
    _Atomic int steps_per_frame;  /* steps between two snapshots while running */
    _Atomic int focus;
    KitSnap snap;                 /* the latest snapshot, written by the worker under the lock */
    KitSnap shown;                /* the UI's copy, drawn without holding the lock */
    void *probe_work;             /* the worker's answer, computed outside the lock */
    void *probe_shared;           /* the latest answer, under the lock */
    void *probe_shown;            /* the UI's copy */
    bool have_probe;
    char probe_text[256];         /* the worker's copy: re-run after every step */
    KitUiState ui;
    char message[512];
    long message_step;             /* a message about where the run is (rewound, reset) goes
                                      with the next step; -1: it stays */
} App;

static void publish(App *a)
{
    pthread_mutex_lock(&a->lock);
    kit_snap_fill(&a->snap, a->r, a->view, a->focus);
    pthread_mutex_unlock(&a->lock);
}

static void set_message(App *a, const char *fmt, const char *s1)
{
    pthread_mutex_lock(&a->lock);
    snprintf(a->message, sizeof a->message, fmt, s1);
    a->message_step = -1;
    pthread_mutex_unlock(&a->lock);
}

int kit_window_threads(int requested)
{
    if (requested > 0) return requested;
    int n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n > 2 ? n - 1 : 1;
}

/* the forward pass of the current batch without an update: predictions and attention */
static void look(Run *r)
{
    bool div;
    char what[256];
    kit_step(r, false, &div, what, sizeof what);
}

/* the probe again, on the worker and outside the lock, so its answer follows the training */
static void run_probe(App *a)
{
    if (!a->view->probe || !a->probe_text[0]) return;
    size_t n = a->view->probe_size;
    a->view->probe(a->r, kit_model(a->r, 0), a->probe_text, a->probe_work);
    KitTrained *t = a->r->trained;
    if (t && t->ok) a->view->probe(a->r, &t->model, a->probe_text, (char *)a->probe_work + n);
    pthread_mutex_lock(&a->lock);
    memcpy(a->probe_shared, a->probe_work, 2 * n);
    a->have_probe = true;
    pthread_mutex_unlock(&a->lock);
}

static void *worker_main(void *arg)
{
    App *a = arg;
    Run *r = a->r;
    const LessonInfo *info = &r->lesson->info;
    engine_set_threads(kit_window_threads(r->opt.threads)); /* per thread: this one trains */
    char what[256], err[1024];
    for (;;) {
        pthread_mutex_lock(&a->lock);
        while (!a->queue.count && !(a->running && !a->diverged)) pthread_cond_wait(&a->wake, &a->lock);
        Cmd c;
        bool queued = kit_queue_pop(&a->queue, &c);
        if (!queued) { /* running: train on, publishing every steps_per_frame steps */
            c = (Cmd){.type = CMD_STEPS, .steps = a->steps_per_frame};
        }
        pthread_mutex_unlock(&a->lock);
        if (c.type == CMD_QUIT) break;
        switch (c.type) {
        case CMD_STEPS:
            a->steps_total = queued ? c.steps : 0; /* "TRAINING n of N" for a command, not for run mode */
            for (long i = 0; i < c.steps && !a->stop && !a->interrupt && !a->diverged; i++) {
                if (queued) a->steps_done = i + 1;
                /* the batch on screen, if it was only looked at, is the one trained on: the
                   window's steps then train on the batches a headless run of the seed does */
                if (r->batch_trained || !r->have_forward) kit_next_batch(r);
                bool div;
                kit_step(r, true, &div, what, sizeof what);
                pthread_mutex_lock(&a->lock);
                if (a->message_step >= 0 && r->step != a->message_step) { /* "Back at step 1608" is past */
                    a->message[0] = 0;
                    a->message_step = -1;
                }
                pthread_mutex_unlock(&a->lock);
                if (!div && r->order_found == 1 && r->step == 1) { /* the weights it started from had it */
                    pthread_mutex_lock(&a->lock);
                    snprintf(a->message, sizeof a->message,
                             "Step 1: layer %d head %d already puts %.2f of its attention on the %s token: %s came with "
                             "the weights it started from, not from training.",
                             r->order_layer + 1, r->order_head + 1, (double)r->order_share,
                             r->order_dir < 0 ? "previous" : "next", kit_order_meaning(r->lesson, r->order_dir, false));
                    a->message_step = r->step; /* gone at the next step */
                    pthread_mutex_unlock(&a->lock);
                } else if (!div && r->order_found == r->step && !a->ui.no_breakpoint) { /* the moment of the lesson */
                    pthread_mutex_lock(&a->lock);
                    a->running = false;
                    snprintf(a->message, sizeof a->message,
                             "Step %ld: layer %d head %d now puts %.2f of its attention on the %s token: %s. Paused "
                             "(B: do not pause).",
                             r->step, r->order_layer + 1, r->order_head + 1, (double)r->order_share,
                             r->order_dir < 0 ? "previous" : "next", kit_order_meaning(r->lesson, r->order_dir, false));
                    pthread_mutex_unlock(&a->lock);
                    break;
                }
                if (div) {
                    pthread_mutex_lock(&a->lock);
                    a->diverged = true;
                    snprintf(a->message, sizeof a->message,
                             "Training diverged: %s. Paused. Try a lower learning rate (--lr %g now), then R to reset.",
                             what, (double)r->opt.lr);
                    pthread_mutex_unlock(&a->lock);
                    break;
                }
                if (i + 1 < c.steps && (i & 15) == 15) { /* a long --steps run shows its progress */
                    run_probe(a);
                    publish(a);
                }
            }
            a->steps_total = 0;
            run_probe(a);
            break;
        case CMD_NEW_BATCH:
            for (long i = 0; i < (c.steps > 1 ? c.steps : 1); i++) kit_next_batch(r);
            look(r);
            break;
        case CMD_RESET:
            a->interrupt = false;
            kit_reset(r, c.seed);
            kit_history_on(r);
            kit_next_batch(r);
            look(r);
            pthread_mutex_lock(&a->lock);
            a->diverged = false;
            pthread_mutex_unlock(&a->lock);
            snprintf(what, sizeof what, "%llu", (unsigned long long)c.seed);
            set_message(a, "Reset with seed %s.", what);
            a->message_step = r->step;
            run_probe(a);
            break;
        case CMD_REWIND:
            if (kit_rewind(r, r->step - c.steps, err, sizeof err)) set_message(a, "Back in time: %.400s", err);
            else {
                snprintf(what, sizeof what, "%ld", r->step);
                set_message(a, "Back at step %s (replayed exactly: step on and the numbers come out the same).", what);
                a->message_step = r->step;
            }
            run_probe(a);
            break;
        case CMD_EXPORT: {
            /* the batch on screen if it was not trained on yet (N), else the next one
               (EXPORT.md: batch N+1, forward and backward without an update) */
            char dir[128], full[4400];
            snprintf(dir, sizeof dir, "fmlab-%s-export-step%ld", info->name, r->step);
            bool next = r->batch_trained || !r->have_forward;
            if (next) kit_next_batch(r);
            look(r);
            r->opt.force = true;
            if (kit_export(r, dir, kit_render_png, err, sizeof err)) set_message(a, "Export failed: %.400s", err);
            else {
                char *abs = realpath(dir, NULL);
                snprintf(full, sizeof full, "%s", abs ? abs : dir);
                free(abs);
                set_message(a, next ? "Exported the next batch (not trained on, now on screen) to %.380s/: weights, gradients, batch, attentions, metrics."
                                    : "Exported the batch on screen to %.380s/: weights, gradients, batch, attentions, metrics.", full);
            }
            break;
        }
        case CMD_PROBE:
            snprintf(a->probe_text, sizeof a->probe_text, "%s", c.text);
            run_probe(a);
            break;
        case CMD_SET: { /* from the worker's current value: no key press is lost */
            double to = r->opt.value[c.key] + c.delta;
            if (c.cycle) { /* the value after the current one in the list (the first when it is not in it) */
                int at = -1;
                for (int i = 0; i < c.ncycle; i++)
                    if (c.cycle[i] == r->opt.value[c.key]) at = i;
                to = c.cycle[(at + 1) % c.ncycle];
            }
            const KeyDef *k = &r->lesson->info.keys[c.key];
            bool display = kit_display_key(r->lesson, c.key); /* what is shown only: training goes on as it was */
            double was = r->opt.value[c.key];
            bool keep = r->keep_history;
            r->keep_history = keep && !display; /* not in the history of training: no mark on the curves */
            kit_set(r, c.key, to);
            r->keep_history = keep;
            if (!display) {
                kit_next_batch(r); /* show the new setting at once */
                look(r);
            }
            char what[160];
            if (k->choices) snprintf(what, sizeof what, "%s = %s", k->name, runtime_choice_name(k, r->opt.value[c.key]));
            else snprintf(what, sizeof what, "%s = %g", k->name, r->opt.value[c.key]);
            if (r->opt.value[c.key] == was && !c.cycle) { /* at the end of its range: say so, rather than seem deaf */
                char range[96];
                snprintf(range, sizeof range, "%s stays at %g: it goes from %g to %g.", k->name, was, k->min, k->max);
                set_message(a, "%s", range);
            } else if (display) set_message(a, "%s (what is shown only: training is unchanged).", what);
            else set_message(a, "%s, from this batch on (a new one is on screen).", what);
            run_probe(a);
            break;
        }
        default:
            break;
        }
        publish(a);
    }
    return NULL;
}

/* Queues a command for the worker, after those still waiting. */
static void send(App *a, Cmd c)
{
    pthread_mutex_lock(&a->lock);
    if (c.type == CMD_RESET) a->interrupt = true; /* at once: the steps under way are dropped too */
    kit_queue_push(&a->queue, c);
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
}

static void set_running(App *a, bool on)
{
    pthread_mutex_lock(&a->lock);
    a->running = on;
    if (on) {
        a->diverged = false;
        a->message[0] = 0;
    }
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
}


int kit_window(Run *r, const void *view_arg)
{
    const LessonView *view = view_arg;
    const LessonInfo *info = &r->lesson->info;
    const char *prog = kit_prog(r);
    if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY")) {
        fprintf(stderr, "%s: no display to open a window on. Without one, run it headless, e.g.\n"
                        "  %s --headless --steps 300 --export out/ --screenshot dashboard.png\n", prog, prog);
        return EXIT_USAGE;
    }
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        runtime_message(prog, "cannot open a window: %s", SDL_GetError());
        return EXIT_USAGE;
    }
    Uint32 flags = SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI | (r->opt.fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
    char title[160];
    snprintf(title, sizeof title, "fmlab · %s", info->title);
    SDL_Window *win = SDL_CreateWindow(title, SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, r->opt.width, r->opt.height, flags);
    SDL_Renderer *ren = win ? viz_create_renderer(win, true) : NULL;
    if (!ren) {
        runtime_message(prog, "cannot open a window: %s", SDL_GetError());
        SDL_Quit();
        return EXIT_USAGE;
    }
    static App a;
    memset(&a, 0, sizeof a);
    a.message_step = -1;
    a.r = r;
    a.view = view;
    pthread_mutex_init(&a.lock, NULL);
    pthread_cond_init(&a.wake, NULL);
    const KitTrained *trained = kit_trained(r);
    a.ui.trained = trained ? (trained->ok ? trained->label : trained->why) : NULL;
    if (kit_snap_init(&a.snap, r, view) || kit_snap_init(&a.shown, r, view)) return EXIT_INTERNAL;
    if (view->probe) {
        a.probe_work = calloc(2, view->probe_size); /* the run's model's answer, the trained one's */
        a.probe_shared = calloc(2, view->probe_size);
        a.probe_shown = calloc(2, view->probe_size);
        if (!a.probe_work || !a.probe_shared || !a.probe_shown) return EXIT_INTERNAL;
    }
    a.ui.steps_per_frame = 1;
    a.steps_per_frame = 1;
    a.ui.lang = r->opt.lang;
    a.ui.notes = kit_notes(info, a.ui.lang);
    if (!r->step || !r->have_forward) {
        kit_next_batch(r);
        look(r);
    }
    kit_history_on(r);
    kit_snap_fill(&a.snap, r, view, 0);
    char asked[sizeof a.ui.probe] = ""; /* the text of the answer on screen */
    if (view->probe && view->probe_default) { /* answered from the start (the worker does not run yet) */
        snprintf(asked, sizeof asked, "%s", view->probe_default);
        snprintf(a.probe_text, sizeof a.probe_text, "%s", view->probe_default);
        snprintf(a.ui.probe, sizeof a.ui.probe, "%s", view->probe_default);
        run_probe(&a);
    }
    pthread_create(&a.worker, NULL, worker_main, &a);
    if (r->opt.steps) send(&a, (Cmd){.type = CMD_STEPS, .steps = r->opt.steps});

    char assets[4096], err[1024];
    const char *root = runtime_source_dir();
    snprintf(assets, sizeof assets, "%s/assets", root ? root : ".");
    float font_scale = r->opt.font_scale;
    Viz v;
    int pw, ph, ww, wh;
    SDL_GetRendererOutputSize(ren, &pw, &ph);
    SDL_GetWindowSize(win, &ww, &wh);
    float dpi = ww ? (float)pw / ww : 1;
    if (viz_open_renderer(&v, ren, pw, ph, font_scale * dpi, assets, err, sizeof err)) {
        runtime_message(prog, "%s", err);
        return EXIT_USAGE;
    }
    bool quit = false;
    Uint32 esc_at = 0;               /* when Esc was pressed to quit, or 0 */
    long order_seen = 0;             /* the word-order moment whose head was last enlarged */
    int spot_run = -1;               /* the run in which the lesson's spotlight head was enlarged */
    bool skip_slash = false;         /* the "/" that opened the probe may still come as text */
    int rc = EXIT_OK;
    /* the mouse as of the event being handled (window points): Z takes the panel under it
       then, not where the last frame saw it, which may be another panel if it moved since */
    int event_mx = -1, event_my = -1;
    SDL_GetMouseState(&event_mx, &event_my);
    VizRect ime_rect = {0};
    while (!quit) {
        Uint32 frame_start = SDL_GetTicks();
        SDL_Event e;
        bool clicked = false;
        while (SDL_PollEvent(&e)) {
            if (e.type == SDL_QUIT) quit = true;
            else if (e.type == SDL_MOUSEBUTTONDOWN && e.button.button == SDL_BUTTON_LEFT) clicked = true;
            else if (e.type == SDL_MOUSEMOTION) {
                event_mx = e.motion.x;
                event_my = e.motion.y;
            } else if (e.type == SDL_MOUSEWHEEL) {
                if (a.ui.help) a.ui.help_scroll -= e.wheel.y * viz_px(&v, 40);
                else a.ui.notes_scroll -= e.wheel.y * viz_px(&v, 40);
            } else if (e.type == SDL_TEXTEDITING && a.ui.probing) { /* a composition (Hangul) under way */
                kit_preedit_set(a.ui.preedit, sizeof a.ui.preedit, &a.ui.preedit_caret, e.edit.text, e.edit.start);
#if SDL_VERSION_ATLEAST(2, 0, 22)
            } else if (e.type == SDL_TEXTEDITING_EXT) { /* a composition longer than SDL_TEXTEDITING holds */
                if (a.ui.probing)
                    kit_preedit_set(a.ui.preedit, sizeof a.ui.preedit, &a.ui.preedit_caret, e.editExt.text,
                                    e.editExt.start);
                SDL_free(e.editExt.text);
#endif
            } else if (e.type == SDL_TEXTINPUT && a.ui.probing) {
                a.ui.preedit[0] = 0; /* the composition is committed as this text */
                bool opener = skip_slash && !strcmp(e.text.text, "/"); /* the key that opened the probe */
                skip_slash = false;
                if (opener) continue;
                kit_utf8_append(a.ui.probe, sizeof a.ui.probe, e.text.text);
            } else if (e.type == SDL_KEYDOWN) {
                SDL_Keycode k = e.key.keysym.sym;
                Uint16 mod = e.key.keysym.mod;
                if (a.ui.probing) {
                    if (k != SDLK_SLASH) skip_slash = false;
                    /* while the input method composes, Backspace and Enter are its own */
                    if (a.ui.preedit[0] && (k == SDLK_BACKSPACE || k == SDLK_RETURN)) continue;
                    if (k == SDLK_ESCAPE) { /* the line goes back to what the answer on screen is for */
                        a.ui.probing = false;
                        a.ui.preedit[0] = 0;
                        snprintf(a.ui.probe, sizeof a.ui.probe, "%s", asked);
                        SDL_StopTextInput();
                    } else if (k == SDLK_BACKSPACE) {
                        kit_utf8_backspace(a.ui.probe);
                    } else if (k == SDLK_u && (mod & KMOD_CTRL)) {
                        a.ui.probe[0] = 0;
                    } else if (k == SDLK_RETURN) { /* asked; the keys are the lesson's again (G, not "g") */
                        Cmd c = {.type = CMD_PROBE};
                        if (!a.ui.probe[0] && view->probe_default) /* an empty line: the lesson's example again */
                            snprintf(a.ui.probe, sizeof a.ui.probe, "%s", view->probe_default);
                        if (!a.ui.probe[0]) /* nothing asked: the answer on screen stays, and its line */
                            snprintf(a.ui.probe, sizeof a.ui.probe, "%s", asked);
                        snprintf(c.text, sizeof c.text, "%s", a.ui.probe);
                        snprintf(asked, sizeof asked, "%s", a.ui.probe);
                        if (c.text[0]) {
                            send(&a, c);
                            a.ui.probe_asked = true;
                        }
                        a.ui.probing = false;
                        SDL_StopTextInput();
                    }
                    continue;
                }
                if (mod & KMOD_CTRL) {
                    if (k == SDLK_EQUALS || k == SDLK_PLUS || k == SDLK_KP_PLUS) font_scale = fminf(font_scale * 1.15f, 4);
                    if (k == SDLK_MINUS || k == SDLK_KP_MINUS) font_scale = fmaxf(font_scale / 1.15f, 0.5f);
                    continue;
                }
                bool handled = true;
                switch (k) {
                case SDLK_ESCAPE: /* twice within 3 s: one stray Esc in class must not end the run */
                    if (esc_at && SDL_GetTicks() - esc_at < 3000) quit = true;
                    else {
                        esc_at = SDL_GetTicks();
                        set_message(&a, "%s", "Press Esc again to quit.");
                    }
                    break;
                case SDLK_SPACE: set_running(&a, false); send(&a, (Cmd){.type = CMD_STEPS, .steps = 1}); break;
                case SDLK_RETURN: set_running(&a, !a.running); break;
                case SDLK_PLUS: case SDLK_EQUALS: case SDLK_KP_PLUS: if (a.steps_per_frame < 64) a.steps_per_frame *= 2; break;
                case SDLK_MINUS: case SDLK_KP_MINUS: if (a.steps_per_frame > 1) a.steps_per_frame /= 2; break;
                case SDLK_n: send(&a, (Cmd){.type = CMD_NEW_BATCH, .steps = 1}); break;
                case SDLK_r:
                    set_running(&a, false);
                    /* the seed on screen: the worker owns r->opt.seed */
                    send(&a, (Cmd){.type = CMD_RESET, .seed = (mod & KMOD_SHIFT) ? a.shown.seed + 1 : a.shown.seed});
                    break;
                case SDLK_TAB:
                    a.focus = (a.focus + ((mod & KMOD_SHIFT) ? r->B - 1 : 1)) % r->B;
                    send(&a, (Cmd){.type = CMD_FOCUS});
                    break;
                case SDLK_s: {
                    char path[128];
                    snprintf(path, sizeof path, "fmlab-%s-step%ld.png", info->name, a.shown.step);
                    if (viz_save_png(&v, path, err, sizeof err)) set_message(&a, "Screenshot failed: %.400s", err);
                    else {
                        char *abs = realpath(path, NULL);
                        set_message(&a, "Saved the screenshot to %s", abs ? abs : path);
                        free(abs);
                    }
                    break;
                }
                case SDLK_e: set_running(&a, false); send(&a, (Cmd){.type = CMD_EXPORT}); break;
                case SDLK_f: case SDLK_F11: {
                    bool full = SDL_GetWindowFlags(win) & SDL_WINDOW_FULLSCREEN_DESKTOP;
                    SDL_SetWindowFullscreen(win, full ? 0 : SDL_WINDOW_FULLSCREEN_DESKTOP);
                    break;
                }
                case SDLK_h: case SDLK_F1: a.ui.help = !a.ui.help; break;
                case SDLK_a: a.ui.reveal = !a.ui.reveal; break;
                case SDLK_m: a.ui.attn = (a.ui.attn + 1) % (a.shown.nattn ? a.shown.nattn : 1); break;
                case SDLK_SLASH:
                    if (!view->probe) break;
                    a.ui.probing = true; /* on from the last line: Backspace edits it, Ctrl+U clears it */
                    skip_slash = true;
                    a.ui.preedit[0] = 0;
                    ime_rect = (VizRect){0};
                    SDL_StartTextInput();
                    break;
                case SDLK_LEFT: set_running(&a, false); send(&a, (Cmd){.type = CMD_REWIND, .steps = 1}); break;
                case SDLK_o: a.ui.zoom = a.ui.zoom ? 0 : -1; break; /* -1: the notes */
                case SDLK_b:
                    a.ui.no_breakpoint = !a.ui.no_breakpoint;
                    set_message(&a, "%s", a.ui.no_breakpoint ? "Word-order breakpoint off." : "Word-order breakpoint on: the run pauses when a head first looks at the neighbouring token.");
                    break;
                case SDLK_c: a.ui.attn_fixed = !a.ui.attn_fixed; break;
                case SDLK_z:
                    a.ui.zoom = a.ui.zoom ? 0 : kit_layout_panel_at(&a.ui.layout, (int)(event_mx * dpi), (int)(event_my * dpi));
                    break;
                case SDLK_p: a.ui.page = kit_layout_turn(&a.ui.layout, (mod & KMOD_SHIFT) ? -1 : 1); break;
                case SDLK_l: a.ui.lang = !a.ui.lang; a.ui.notes = kit_notes(info, a.ui.lang); a.ui.notes_scroll = 0; break;
                case SDLK_PAGEDOWN: *(a.ui.help ? &a.ui.help_scroll : &a.ui.notes_scroll) += v.h / 3; break;
                case SDLK_PAGEUP: *(a.ui.help ? &a.ui.help_scroll : &a.ui.notes_scroll) -= v.h / 3; break;
                default: handled = false; break;
                }
                if (handled) continue;
                if (k >= SDLK_1 && k <= SDLK_9) {
                    int layers = a.shown.nattn ? a.shown.attn[a.ui.attn < a.shown.nattn ? a.ui.attn : 0].L : 0;
                    a.ui.layer = k - SDLK_1;
                    if (layers && a.ui.layer >= layers) { /* say so, rather than seem to ignore the key */
                        a.ui.layer = layers - 1;
                        char m[96];
                        snprintf(m, sizeof m, "This model has %d layer%s: layer %d is shown.", layers, layers > 1 ? "s" : "",
                                 layers);
                        set_message(&a, "%s", m);
                    }
                    continue;
                }
                for (int i = 0; i < view->nkeys; i++)
                    if (view->keys[i].key == (int)k) {
                        int idx = runtime_key_index(info, view->keys[i].setting);
                        ENGINE_CHECK(idx >= 0, "key '%c': no setting %s", view->keys[i].key, view->keys[i].setting);
                        send(&a, (Cmd){.type = CMD_SET, .key = idx, .delta = view->keys[i].step,
                                       .cycle = view->keys[i].cycle, .ncycle = view->keys[i].ncycle});
                    }
            }
        }
        if (a.diverged && a.running) set_running(&a, false);
        if (esc_at && SDL_GetTicks() - esc_at >= 3000) { /* the second press did not come: the offer lapses */
            esc_at = 0;
            pthread_mutex_lock(&a.lock);
            if (!strcmp(a.message, "Press Esc again to quit.")) a.message[0] = 0;
            pthread_mutex_unlock(&a.lock);
        }
        a.ui.running = a.running;
        a.ui.steps_per_frame = a.steps_per_frame;
        a.ui.steps_done = a.steps_total > 1 ? a.steps_done : 0;
        a.ui.steps_total = a.steps_total > 1 ? a.steps_total : 0;
        SDL_GetRendererOutputSize(ren, &pw, &ph);
        SDL_GetWindowSize(win, &ww, &wh);
        dpi = ww ? (float)pw / ww : 1;
        v.w = pw;
        v.h = ph;
        v.scale = font_scale * dpi * fmaxf(1.0f, fminf(pw / (1280.0f * dpi), ph / (800.0f * dpi)));
        int mx, my;
        Uint32 buttons = SDL_GetMouseState(&mx, &my);
        viz_set_mouse(&v, (int)(mx * dpi), (int)(my * dpi), buttons & SDL_BUTTON_LMASK, clicked);
        pthread_mutex_lock(&a.lock);
        snprintf(a.ui.status, sizeof a.ui.status, "%.250s", a.message);
        kit_snap_copy(&a.shown, &a.snap, view);
        if (a.shown.order_found && a.shown.order_found != order_seen) { /* enlarge the head that found it */
            order_seen = a.shown.order_found;
            a.ui.attn = 0;
            a.ui.layer = a.shown.order_layer;
            a.ui.head = a.shown.order_head;
        }
        int sl, sh; /* the lesson's own head, the first time it names one in this run */
        if (view->spotlight && a.shown.run != spot_run && view->spotlight(&a.shown, a.shown.lesson, &sl, &sh)) {
            spot_run = a.shown.run;
            a.ui.attn = 0;
            a.ui.layer = sl;
            a.ui.head = sh;
        }
        if (a.have_probe) memcpy(a.probe_shown, a.probe_shared, 2 * view->probe_size);
        a.ui.probe_result = a.have_probe ? a.probe_shown : NULL;
        a.ui.probe_trained = a.have_probe && trained && trained->ok ? (char *)a.probe_shown + view->probe_size : NULL;
        pthread_mutex_unlock(&a.lock);
        viz_begin(&v);
        kit_draw(&v, &a.shown, &a.ui, view);
        viz_end(&v);
        /* the input method's candidate window under the caret (window points) */
        VizRect c = a.ui.caret;
        if (a.ui.probing && memcmp(&c, &ime_rect, sizeof c)) {
            ime_rect = c;
            SDL_SetTextInputRect(&(SDL_Rect){(int)(c.x / dpi), (int)(c.y / dpi), (int)(c.w / dpi) + 1, (int)(c.h / dpi)});
        }
        /* about 60 frames a second: the software renderer has no vsync to pace it */
        Uint32 spent = SDL_GetTicks() - frame_start;
        SDL_Delay(spent < 16 ? 16 - spent : 1);
    }
    a.stop = true;
    pthread_mutex_lock(&a.lock);
    a.running = false;
    kit_queue_push(&a.queue, (Cmd){.type = CMD_QUIT});
    pthread_cond_signal(&a.wake);
    pthread_mutex_unlock(&a.lock);
    pthread_join(a.worker, NULL);
    if (r->opt.save && kit_save(r, r->opt.save, err, sizeof err)) {
        runtime_message(prog, "--save %s", err);
        rc = EXIT_USAGE;
    }
    viz_close(&v);
    kit_snap_free(&a.snap);
    kit_snap_free(&a.shown);
    free(a.probe_work);
    free(a.probe_shared);
    free(a.probe_shown);
    SDL_DestroyRenderer(ren);
    SDL_DestroyWindow(win);
    SDL_Quit();
    return rc;
}

/* While a lesson builds what it needs before its dashboard can open (pretrained.h: a
 * pretrained encoder, a minute or more), a small window says what is happening and how far
 * it is, so that a student who started the lesson from the menu is not left looking at
 * nothing. Closing it (or Esc) stops the build. It closes when the build is over; the
 * dashboard opens after. */
static bool progress_window(const Run *r, const char *what, long step, long total, double loss)
{
    static SDL_Window *win;
    static SDL_Renderer *ren;
    static Viz v;
    static bool failed;
    if (total < 0) { /* over */
        if (win) {
            viz_close(&v);
            SDL_DestroyRenderer(ren);
            SDL_DestroyWindow(win);
            SDL_Quit();
            win = NULL;
        }
        return true;
    }
    if (failed) return true;
    if (!win) {
        char assets[4096], err[512];
        const char *root = runtime_source_dir();
        snprintf(assets, sizeof assets, "%s/assets", root ? root : ".");
        float scale = r->opt.font_scale;
        int w = (int)(760 * scale), h = (int)(230 * scale);
        if ((!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY")) || SDL_Init(SDL_INIT_VIDEO) != 0 ||
            !(win = SDL_CreateWindow("fmlab · getting ready", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, w, h, 0)) ||
            !(ren = viz_create_renderer(win, false))) {
            if (win) SDL_DestroyWindow(win);
            win = NULL;
            failed = true; /* the bar on stderr is all there is */
            return true;
        }
        int pw, ph;
        SDL_GetRendererOutputSize(ren, &pw, &ph);
        if (viz_open_renderer(&v, ren, pw, ph, scale * (float)pw / (float)w, assets, err, sizeof err)) {
            SDL_DestroyRenderer(ren);
            SDL_DestroyWindow(win);
            SDL_Quit();
            win = NULL;
            failed = true;
            return true;
        }
    }
    for (SDL_Event e; SDL_PollEvent(&e);)
        if (e.type == SDL_QUIT || (e.type == SDL_KEYDOWN && e.key.keysym.sym == SDLK_ESCAPE) ||
            (e.type == SDL_WINDOWEVENT && e.window.event == SDL_WINDOWEVENT_CLOSE))
            return false;
    int W, H;
    SDL_GetRendererOutputSize(ren, &W, &H);
    viz_begin(&v);
    int pad = viz_px(&v, 14), y = pad, lh = viz_text_height(&v, FONT_SANS, 12);
    char line[256];
    snprintf(line, sizeof line, "%s is getting ready", kit_prog(r));
    viz_text(&v, pad, y, line, FONT_BOLD, 15, VIZ_TEXT, ALIGN_LEFT);
    y += viz_text_height(&v, FONT_BOLD, 15) + pad / 2;
    y += viz_text_wrap(&v, pad, y, W - 2 * pad, what, FONT_SANS, 12, VIZ_DIM) + pad / 2;
    VizRect bar = {pad, y, W - 2 * pad, lh};
    viz_fill(&v, (VizRect){bar.x, bar.y, (int)((double)bar.w * step / (total ? total : 1)), bar.h}, VIZ_ACCENT[1]);
    viz_frame(&v, bar, VIZ_DIM);
    y += lh + pad / 2;
    static double t0;
    if (step <= 0) t0 = runtime_seconds();
    double left = step > 0 ? (runtime_seconds() - t0) * (double)(total - step) / (double)step : 0;
    if (step > 0)
        snprintf(line, sizeof line, "step %ld of %ld   masked-LM loss %.3f   about %.0f s left   (Esc stops it)", step, total,
                 loss, left);
    else snprintf(line, sizeof line, "starting fmlab's masked-LM lesson headless...   (Esc stops it)");
    viz_text(&v, pad, y, line, FONT_SANS, 12, VIZ_TEXT, ALIGN_LEFT);
    viz_end(&v);
    return true;
}

int lesson_main(const Lesson *l, const LessonView *view, int argc, char **argv)
{
    KitUi ui = {kit_window, kit_render_png, view};
    kit_progress_window = progress_window;
    return kit_main(l, &ui, argc, argv);
}
