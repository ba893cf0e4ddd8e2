/*
 * replay.c - runs the fuzz target over files and directories of inputs (the
 * seed corpus, crash reproducers) in any build, without libFuzzer.
 *
 * Usage: sr_fuzz_replay PATH...   (a directory runs every regular file in it,
 * in name order). Exits 0 when every input ran; a disagreement with the model
 * aborts inside the target and names the step.
 */
#include "fuzz_api.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int sr__replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return 1; }
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) { fclose(f); return 1; }
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); fclose(f); return 1; }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    fprintf(stderr, "replay %s (%zu bytes)\n", path, n);
    sr_fuzz_run(buf, n);
    free(buf);
    return 0;
}

static int sr__replay_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int sr__replay_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) { perror(dir); return 1; }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) { closedir(d); return 1; }
            names = nn;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        if (!names[n]) { closedir(d); return 1; }
        snprintf(names[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, sr__replay_cmp);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            rc |= sr__replay_file(names[i]);
            ++*count;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE-OR-DIR...\n", argv[0]);
        return 2;
    }
    int rc = 0;
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) { perror(argv[i]); return 1; }
        if (S_ISDIR(st.st_mode)) rc |= sr__replay_dir(argv[i], &count);
        else { rc |= sr__replay_file(argv[i]); count++; }
    }
    if (count == 0) { fprintf(stderr, "no inputs found\n"); return 1; }
    fprintf(stderr, "%zu inputs replayed\n", count);
    return rc;
}
