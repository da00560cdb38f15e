/* app.c — fmlab-mlm's window. Training runs on a worker thread; after every step it copies
 * what the dashboard shows into a snapshot (under a lock held only for that copy), and the
 * UI thread draws the latest snapshot and reads the keyboard, so the window never waits on
 * a step, whatever the model size. The UI asks the worker for work through one command
 * slot: steps, a new batch, a reset, an export, a probe, a setting. */
#define _POSIX_C_SOURCE 200809L
#include <SDL.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "panels.h"

typedef enum Cmd { CMD_NONE, CMD_STEPS, CMD_NEW_BATCH, CMD_RESET, CMD_EXPORT, CMD_PROBE, CMD_SET, CMD_FOCUS, CMD_QUIT } Cmd;

typedef struct App {
    Mlm *L;
    pthread_t worker;
    pthread_mutex_t lock;         /* guards view, ui result fields and the command slot */
    pthread_cond_t wake;
    Cmd cmd;
    long cmd_steps;
    uint64_t cmd_seed;
    int cmd_key;
    double cmd_value;
    bool busy, diverged;
    _Atomic bool stop;            /* set by the UI to end a long run of steps at once */
    _Atomic bool running;         /* Enter: the worker trains continuously */
    _Atomic int steps_per_frame;  /* steps between two snapshots while running */
    int focus;
    MlmView view;                 /* the latest snapshot, written by the worker under the lock */
    MlmView shown;                /* the UI's copy, drawn without holding the lock */
    MlmUi ui;
    char message[512];
} App;

static void publish(App *a)
{
    pthread_mutex_lock(&a->lock);
    mlm_view_fill(&a->view, a->L, a->focus);
    pthread_mutex_unlock(&a->lock);
}

static void set_message(App *a, const char *fmt, const char *s1)
{
    pthread_mutex_lock(&a->lock);
    snprintf(a->message, sizeof a->message, fmt, s1);
    pthread_mutex_unlock(&a->lock);
}

/* Engine threads for the worker: --threads, or every core but the one the window draws on
 * (with all of them, the drawing thread and the engine's threads fight over the cores and
 * both slow down). The numbers do not depend on it. */
int mlm_window_threads(int requested)
{
    if (requested > 0) return requested;
    int n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n > 2 ? n - 1 : 1;
}

static void *worker_main(void *arg)
{
    App *a = arg;
    Mlm *L = a->L;
    engine_set_threads(mlm_window_threads(L->opt.threads)); /* per thread: this one trains */
    char what[256], err[1024];
    for (;;) {
        pthread_mutex_lock(&a->lock);
        while (a->cmd == CMD_NONE && !(a->running && !a->diverged)) pthread_cond_wait(&a->wake, &a->lock);
        if (a->cmd == CMD_NONE) { /* running: train on, publishing every steps_per_frame steps */
            a->cmd = CMD_STEPS;
            a->cmd_steps = a->steps_per_frame;
        }
        Cmd cmd = a->cmd;
        long n = a->cmd_steps;
        uint64_t seed = a->cmd_seed;
        int key = a->cmd_key;
        double value = a->cmd_value;
        char probe[256];
        snprintf(probe, sizeof probe, "%s", a->ui.probe);
        a->cmd = CMD_NONE;
        a->busy = true;
        pthread_mutex_unlock(&a->lock);
        if (cmd == CMD_QUIT) break;
        switch (cmd) {
        case CMD_STEPS:
            for (long i = 0; i < n && !a->stop && !a->diverged; i++) {
                mlm_next_batch(L);
                bool div;
                mlm_train_step(L, true, &div, what, sizeof what);
                if (div) {
                    pthread_mutex_lock(&a->lock);
                    a->diverged = true;
                    snprintf(a->message, sizeof a->message,
                             "Training diverged: %s. Paused. Try a lower learning rate (--lr %g now), then R to reset.",
                             what, (double)L->opt.lr);
                    pthread_mutex_unlock(&a->lock);
                    break;
                }
                if (i + 1 < n && (i & 15) == 15) publish(a); /* a long --steps run shows its progress */
            }
            break;
        case CMD_NEW_BATCH: {
            mlm_next_batch(L);
            bool div;
            mlm_train_step(L, false, &div, what, sizeof what); /* predictions and attention, no update */
            break;
        }
        case CMD_RESET:
            mlm_reset(L, seed);
            mlm_next_batch(L);
            snprintf(what, sizeof what, "%llu", (unsigned long long)seed);
            set_message(a, "Reset with seed %s.", what);
            break;
        case CMD_EXPORT: {
            char dir[128];
            snprintf(dir, sizeof dir, "fmlab-mlm-export-step%ld", L->step);
            mlm_next_batch(L);
            bool div;
            mlm_train_step(L, false, &div, what, sizeof what);
            L->opt.force = true;
            if (mlm_export(L, dir, "frame.png", err, sizeof err)) set_message(a, "Export failed: %.400s", err);
            else set_message(a, "Exported to %s/ (weights, gradients, batch, attentions, metrics).", dir);
            break;
        }
        case CMD_PROBE: {
            int len = 0;
            pthread_mutex_lock(&a->lock);
            mlm_probe(L, probe, a->ui.probe_ids, 128, &len, a->ui.probe_p, a->ui.probe_id);
            a->ui.probe_len = len;
            pthread_mutex_unlock(&a->lock);
            break;
        }
        case CMD_SET: {
            float *p = key == 0 ? &L->mask.mlm_probability : key == 1 ? &L->mask.mask_replace_prob : &L->mask.random_replace_prob;
            float v = (float)value;
            if (v < 0) v = 0;
            if (v > 1) v = 1;
            *p = v;
            if (L->mask.mask_replace_prob + L->mask.random_replace_prob > 1)
                *(key == 1 ? &L->mask.random_replace_prob : &L->mask.mask_replace_prob) =
                    1 - (key == 1 ? L->mask.mask_replace_prob : L->mask.random_replace_prob);
            L->opt.value[runtime_key_index(&mlm_info, key == 0 ? "mlm_probability" : key == 1 ? "mask_replace_prob" : "random_replace_prob")] = *p;
            mlm_next_batch(L); /* show the new masking at once */
            bool div;
            mlm_train_step(L, false, &div, what, sizeof what);
            break;
        }
        default:
            break;
        }
        publish(a);
        pthread_mutex_lock(&a->lock);
        a->busy = false;
        pthread_mutex_unlock(&a->lock);
    }
    return NULL;
}

/* Queues a command for the worker (it runs after the current one; a newer one replaces an
 * older one still waiting). */
static void send(App *a, Cmd c, long steps)
{
    pthread_mutex_lock(&a->lock);
    a->cmd = c;
    a->cmd_steps = steps;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
}

static void set_running(App *a, bool on)
{
    pthread_mutex_lock(&a->lock);
    a->running = on;
    if (on) { a->diverged = false; a->message[0] = 0; }
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
}

int mlm_window(Mlm *L)
{
    if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY")) {
        fprintf(stderr, "fmlab-mlm: no display to open a window on. Without one, run it headless, e.g.\n"
                        "  fmlab-mlm --headless --steps 300 --export out/ --screenshot dashboard.png\n");
        return EXIT_USAGE;
    }
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr, "fmlab-mlm: cannot open a window: %s\n", SDL_GetError());
        return EXIT_USAGE;
    }
    Uint32 flags = SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI | (L->opt.fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
    SDL_Window *win = SDL_CreateWindow("fmlab · BERT masked language model", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED,
                                       L->opt.width, L->opt.height, flags);
    SDL_Renderer *ren = win ? SDL_CreateRenderer(win, -1, SDL_RENDERER_ACCELERATED | SDL_RENDERER_PRESENTVSYNC) : NULL;
    if (win && !ren) ren = SDL_CreateRenderer(win, -1, SDL_RENDERER_SOFTWARE);
    if (!ren) {
        fprintf(stderr, "fmlab-mlm: cannot open a window: %s\n", SDL_GetError());
        SDL_Quit();
        return EXIT_USAGE;
    }
    static App a;
    memset(&a, 0, sizeof a);
    a.L = L;
    pthread_mutex_init(&a.lock, NULL);
    pthread_cond_init(&a.wake, NULL);
    if (mlm_view_alloc(&a.view, L) || mlm_view_alloc(&a.shown, L)) return EXIT_INTERNAL;
    a.ui.steps_per_frame = 1;
    a.steps_per_frame = 1;
    a.ui.notes = mlm_notes();
    if (!L->step) {
        mlm_next_batch(L);
        bool div;
        char what[64];
        mlm_train_step(L, false, &div, what, sizeof what);
    }
    mlm_view_fill(&a.view, L, 0);
    pthread_create(&a.worker, NULL, worker_main, &a);
    if (L->opt.steps) send(&a, CMD_STEPS, L->opt.steps);

    char assets[4096], err[1024];
    const char *root = runtime_source_dir();
    snprintf(assets, sizeof assets, "%s/assets", root ? root : ".");
    float font_scale = L->opt.font_scale;
    Viz v;
    int pw, ph;
    SDL_GetRendererOutputSize(ren, &pw, &ph);
    int ww, wh;
    SDL_GetWindowSize(win, &ww, &wh);
    float dpi = ww ? (float)pw / ww : 1;
    if (viz_open_renderer(&v, ren, pw, ph, font_scale * dpi, assets, err, sizeof err)) {
        fprintf(stderr, "fmlab-mlm: %s\n", err);
        return EXIT_USAGE;
    }
    bool quit = false;
    int rc = EXIT_OK;
    while (!quit) {
        SDL_Event e;
        bool clicked = false;
        while (SDL_PollEvent(&e)) {
            if (e.type == SDL_QUIT) quit = true;
            else if (e.type == SDL_MOUSEBUTTONDOWN && e.button.button == SDL_BUTTON_LEFT) clicked = true;
            else if (e.type == SDL_MOUSEWHEEL) a.ui.notes_scroll -= e.wheel.y * viz_px(&v, 40);
            else if (e.type == SDL_TEXTINPUT && a.ui.probing) {
                if (!a.ui.probe[0] && !strcmp(e.text.text, "/")) continue; /* the key that opened the probe */
                size_t n = strlen(a.ui.probe);
                if (n + strlen(e.text.text) < sizeof a.ui.probe - 1) strcat(a.ui.probe, e.text.text);
            } else if (e.type == SDL_KEYDOWN) {
                SDL_Keycode k = e.key.keysym.sym;
                SDL_Keymod mod = SDL_GetModState();
                if (a.ui.probing) {
                    if (k == SDLK_ESCAPE) { a.ui.probing = false; SDL_StopTextInput(); }
                    else if (k == SDLK_BACKSPACE && a.ui.probe[0]) a.ui.probe[strlen(a.ui.probe) - 1] = 0;
                    else if (k == SDLK_RETURN) send(&a, CMD_PROBE, 0);
                    continue;
                }
                if (mod & KMOD_CTRL) {
                    if (k == SDLK_EQUALS || k == SDLK_PLUS || k == SDLK_KP_PLUS) font_scale = fminf(font_scale * 1.15f, 4);
                    if (k == SDLK_MINUS || k == SDLK_KP_MINUS) font_scale = fmaxf(font_scale / 1.15f, 0.5f);
                    continue;
                }
                switch (k) {
                case SDLK_ESCAPE: quit = true; break;
                case SDLK_SPACE: set_running(&a, false); send(&a, CMD_STEPS, 1); break;
                case SDLK_RETURN: set_running(&a, !a.running); break;
                case SDLK_PLUS: case SDLK_EQUALS: case SDLK_KP_PLUS: if (a.steps_per_frame < 64) a.steps_per_frame *= 2; break;
                case SDLK_MINUS: case SDLK_KP_MINUS: if (a.steps_per_frame > 1) a.steps_per_frame /= 2; break;
                case SDLK_n: send(&a, CMD_NEW_BATCH, 0); break;
                case SDLK_r:
                    set_running(&a, false);
                    a.cmd_seed = (mod & KMOD_SHIFT) ? L->opt.seed + 1 : L->opt.seed;
                    send(&a, CMD_RESET, 0);
                    break;
                case SDLK_TAB:
                    pthread_mutex_lock(&a.lock);
                    a.focus = (a.focus + 1) % L->B;
                    pthread_mutex_unlock(&a.lock);
                    send(&a, CMD_FOCUS, 0);
                    break;
                case SDLK_s: {
                    char path[128];
                    snprintf(path, sizeof path, "fmlab-mlm-step%ld.png", a.shown.step);
                    if (viz_save_png(&v, path, err, sizeof err)) snprintf(a.message, sizeof a.message, "Screenshot failed: %.400s", err);
                    else snprintf(a.message, sizeof a.message, "Saved %s", path);
                    break;
                }
                case SDLK_e: set_running(&a, false); send(&a, CMD_EXPORT, 0); break;
                case SDLK_f: case SDLK_F11: {
                    bool full = SDL_GetWindowFlags(win) & SDL_WINDOW_FULLSCREEN_DESKTOP;
                    SDL_SetWindowFullscreen(win, full ? 0 : SDL_WINDOW_FULLSCREEN_DESKTOP);
                    break;
                }
                case SDLK_h: case SDLK_F1: a.ui.help = !a.ui.help; break;
                case SDLK_a: a.ui.reveal = !a.ui.reveal; break;
                case SDLK_SLASH: a.ui.probing = true; a.ui.probe[0] = 0; SDL_StartTextInput(); break;
                case SDLK_PAGEDOWN: a.ui.notes_scroll += v.h / 3; break;
                case SDLK_PAGEUP: a.ui.notes_scroll -= v.h / 3; break;
                case SDLK_LEFTBRACKET: case SDLK_RIGHTBRACKET:
                    a.cmd_key = 0;
                    a.cmd_value = a.shown.mlm_probability + (k == SDLK_RIGHTBRACKET ? 0.05 : -0.05);
                    send(&a, CMD_SET, 0);
                    break;
                case SDLK_SEMICOLON: case SDLK_QUOTE:
                    a.cmd_key = 1;
                    a.cmd_value = a.shown.mask_replace_prob + (k == SDLK_QUOTE ? 0.1 : -0.1);
                    send(&a, CMD_SET, 0);
                    break;
                case SDLK_COMMA: case SDLK_PERIOD:
                    a.cmd_key = 2;
                    a.cmd_value = a.shown.random_replace_prob + (k == SDLK_PERIOD ? 0.05 : -0.05);
                    send(&a, CMD_SET, 0);
                    break;
                default:
                    if (k >= SDLK_1 && k <= SDLK_9 && k - SDLK_1 < L->model.cfg.num_hidden_layers) a.ui.layer = k - SDLK_1;
                    break;
                }
            }
        }
        if (a.diverged && a.running) set_running(&a, false);
        a.ui.running = a.running;
        a.ui.steps_per_frame = a.steps_per_frame;
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
        mlm_view_copy(&a.shown, &a.view);
        MlmUi ui = a.ui; /* the probe results are written by the worker under the lock */
        pthread_mutex_unlock(&a.lock);
        viz_begin(&v);
        mlm_draw(&v, &a.shown, &ui);
        viz_end(&v);
        a.ui.layer = ui.layer;
        a.ui.head = ui.head;
        a.ui.notes_scroll = ui.notes_scroll;
        SDL_Delay(8);
    }
    a.stop = true;
    pthread_mutex_lock(&a.lock);
    a.running = false;
    a.cmd = CMD_QUIT;
    a.busy = false;
    pthread_cond_signal(&a.wake);
    pthread_mutex_unlock(&a.lock);
    pthread_join(a.worker, NULL);
    if (L->opt.save && mlm_save(L, L->opt.save, err, sizeof err)) {
        fprintf(stderr, "fmlab-mlm: --save %s\n", err);
        rc = EXIT_USAGE;
    }
    viz_close(&v);
    mlm_view_free(&a.view);
    mlm_view_free(&a.shown);
    SDL_DestroyRenderer(ren);
    SDL_DestroyWindow(win);
    SDL_Quit();
    return rc;
}
