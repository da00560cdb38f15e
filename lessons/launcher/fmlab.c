/* fmlab.c — the launcher. `fmlab` opens a menu of the lessons in lecture order (arrow keys
 * or the mouse, Enter or a click starts one); `fmlab <lesson> [flags]` runs fmlab-<lesson>
 * directly with those flags; `fmlab --list` prints the lessons. Each lesson is its own
 * program, installed next to this one. With no display the menu prints the lessons and the
 * headless command instead of failing. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/engine.h"
#include "lessons/common/runtime.h"
#ifdef FMLAB_HAVE_VIZ
#include "viz/viz.h"
#endif

typedef struct Lesson {
    const char *name;
    const char *title;
    const char *summary;
} Lesson;

/* Lecture order, from the registry every part of the project reads. */
static const Lesson lessons[] = {
#define LESSON(name, title, summary) {#name, title, summary},
#include "lessons/registry.def"
#undef LESSON
};
enum { NLESSONS = sizeof lessons / sizeof lessons[0] };

static char exe_dir[PATH_MAX];

static void find_exe_dir(void)
{
    ssize_t n = readlink("/proc/self/exe", exe_dir, sizeof exe_dir - 1);
    if (n <= 0) { strcpy(exe_dir, "."); return; }
    exe_dir[n] = 0;
    char *slash = strrchr(exe_dir, '/');
    if (slash) *slash = 0;
}

static int program_path(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/fmlab-%s", exe_dir, name);
    return access(out, X_OK);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fmlab [<lesson> [flags]]\n"
            "  with no argument, opens the menu of lessons (or lists them without a display)\n"
            "  fmlab <lesson> --help     the lesson's own flags\n"
            "  --list                    the lessons, one per line\n"
            "  -h, --help / --version\n\n"
            "lessons, in lecture order:\n");
    for (int i = 0; i < NLESSONS; i++) fprintf(f, "  %-8s %s\n", lessons[i].name, lessons[i].title);
}

static int run_lesson(const char *name, int argc, char **argv)
{
    char path[PATH_MAX + 32];
    int known = -1;
    for (int i = 0; i < NLESSONS; i++)
        if (!strcmp(lessons[i].name, name)) known = i;
    if (known < 0) {
        runtime_message("fmlab", "no lesson named \"%s\" (fmlab --list shows them)", name);
        return 2;
    }
    if (program_path(name, path, sizeof path)) {
        runtime_message("fmlab", "%s is not built or not executable", path);
        return 2;
    }
    char **args = calloc((size_t)argc + 2, sizeof *args);
    args[0] = path;
    for (int i = 0; i < argc; i++) args[i + 1] = argv[i];
    execv(path, args);
    runtime_message("fmlab", "cannot start %s: %s", path, strerror(errno));
    free(args);
    return 1;
}

static void print_menu(FILE *f)
{
    printf("fmlab %s: how foundation models are pretrained, one lesson per objective.\n\n", FMLAB_VERSION);
    for (int i = 0; i < NLESSONS; i++) fprintf(f, "  %d. %-6s %s\n     %s\n", i + 1, lessons[i].name, lessons[i].title, lessons[i].summary);
    fprintf(f, "\nStart one with `fmlab <lesson>`; without a display: `fmlab %s --headless --steps 300 --export out/`.\n",
            lessons[0].name);
}

#ifdef FMLAB_HAVE_VIZ
/* The menu window: one card per lesson. Returns the chosen index or -1. */
static int menu_window(void)
{
    if (SDL_Init(SDL_INIT_VIDEO) != 0) return -2;
    SDL_Window *win = SDL_CreateWindow("fmlab", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, 900, 560,
                                       SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
    SDL_Renderer *ren = win ? viz_create_renderer(win, true) : NULL;
    if (!ren) { SDL_Quit(); return -2; }
    char assets[PATH_MAX + 64], err[512];
    snprintf(assets, sizeof assets, "%s/assets", FMLAB_SOURCE_ROOT);
    struct stat st;
    if (stat(assets, &st) != 0) snprintf(assets, sizeof assets, "%s/../share/fmlab/assets", exe_dir);
    Viz v;
    int pw, ph, ww, wh;
    SDL_GetRendererOutputSize(ren, &pw, &ph);
    SDL_GetWindowSize(win, &ww, &wh);
    float dpi = ww ? (float)pw / ww : 1;
    if (viz_open_renderer(&v, ren, pw, ph, dpi, assets, err, sizeof err)) {
        runtime_message("fmlab", "%s", err);
        SDL_Quit();
        return -2;
    }
    int sel = 0, chosen = -1;
    bool quit = false;
    while (!quit && chosen < 0) {
        SDL_Event e;
        bool clicked = false;
        while (SDL_PollEvent(&e)) {
            if (e.type == SDL_QUIT) quit = true;
            else if (e.type == SDL_MOUSEBUTTONDOWN) clicked = true;
            else if (e.type == SDL_KEYDOWN) {
                SDL_Keycode k = e.key.keysym.sym;
                if (k == SDLK_ESCAPE || k == SDLK_q) quit = true;
                else if (k == SDLK_DOWN) sel = (sel + 1) % NLESSONS;
                else if (k == SDLK_UP) sel = (sel + NLESSONS - 1) % NLESSONS;
                else if (k == SDLK_RETURN || k == SDLK_SPACE) chosen = sel;
                else if (k >= SDLK_1 && k < SDLK_1 + NLESSONS) chosen = k - SDLK_1;
            }
        }
        SDL_GetRendererOutputSize(ren, &pw, &ph);
        v.w = pw;
        v.h = ph;
        int mx, my;
        SDL_GetMouseState(&mx, &my);
        viz_set_mouse(&v, (int)(mx * dpi), (int)(my * dpi), false, clicked);
        viz_begin(&v);
        int pad = viz_px(&v, 24), y = pad;
        viz_text(&v, pad, y, "fmlab", FONT_BOLD, 28, VIZ_ACCENT[0], ALIGN_LEFT);
        y += viz_text_height(&v, FONT_BOLD, 28);
        viz_text(&v, pad, y, "How foundation models are pretrained: one lesson per objective, trained live.", FONT_SANS,
                 14, VIZ_DIM, ALIGN_LEFT);
        y += viz_text_height(&v, FONT_SANS, 14) + pad;
        int card_h = viz_text_height(&v, FONT_BOLD, 18) + viz_text_height(&v, FONT_SANS, 13) + viz_px(&v, 24);
        for (int i = 0; i < NLESSONS; i++) {
            VizRect c = {pad, y, v.w - 2 * pad, card_h};
            bool hover = viz_hover(&v, c);
            if (hover) sel = i;
            viz_fill(&v, c, i == sel ? (VizColor){46, 52, 70, 255} : VIZ_PANEL);
            if (i == sel) viz_frame(&v, c, VIZ_ACCENT[3]);
            char title[160];
            snprintf(title, sizeof title, "%d.  %s   (fmlab %s)", i + 1, lessons[i].title, lessons[i].name);
            viz_text(&v, c.x + viz_px(&v, 12), c.y + viz_px(&v, 8), title, FONT_BOLD, 18, VIZ_TEXT, ALIGN_LEFT);
            viz_text_fit(&v, c.x + viz_px(&v, 12), c.y + viz_px(&v, 12) + viz_text_height(&v, FONT_BOLD, 18), c.w - viz_px(&v, 24),
                         lessons[i].summary, FONT_SANS, 13, VIZ_DIM);
            if (hover && clicked) chosen = i;
            y += card_h + viz_px(&v, 10);
        }
        viz_text(&v, pad, v.h - pad, "↑ ↓ choose · Enter or click: start · Esc: quit", FONT_SANS, 12, VIZ_DIM, ALIGN_LEFT);
        viz_end(&v);
        SDL_Delay(16);
    }
    viz_close(&v);
    SDL_DestroyRenderer(ren);
    SDL_DestroyWindow(win);
    SDL_Quit();
    return chosen;
}
#endif

int main(int argc, char **argv)
{
    find_exe_dir();
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("fmlab %s\n", FMLAB_VERSION);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--list")) {
        for (int i = 0; i < NLESSONS; i++) printf("%s\t%s\n", lessons[i].name, lessons[i].title);
        return 0;
    }
    if (argc > 1 && argv[1][0] == '-') {
        runtime_message("fmlab", "unknown flag \"%s\" (fmlab --help)", argv[1]);
        return 2;
    }
    if (argc > 1) return run_lesson(argv[1], argc - 2, argv + 2);
    if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY")) {
        print_menu(stdout);
        printf("(No display here, so no menu window.)\n");
        return 0;
    }
#ifdef FMLAB_HAVE_VIZ
    /* the menu returns to itself when a lesson ends, until the student quits */
    for (;;) {
        int chosen = menu_window();
        if (chosen == -2) {
            print_menu(stdout);
            return 0;
        }
        if (chosen < 0) return 0;
        char path[PATH_MAX + 32];
        if (program_path(lessons[chosen].name, path, sizeof path)) {
            runtime_message("fmlab", "%s is not built", path);
            return 2;
        }
        pid_t pid = fork();
        if (pid == 0) {
            execl(path, path, (char *)NULL);
            _exit(127);
        }
        int status;
        waitpid(pid, &status, 0);
    }
#else
    print_menu(stdout);
    return 0;
#endif
}
