/* replay.c -- a main() for the fuzz target where libFuzzer is not used (gcc,
 * the ASan/UBSan build): runs every file of the given corpus directories,
 * then a fixed number of deterministic mutations of each (byte flips,
 * truncations, insertions), so sanitizer builds still see hostile bytes.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MUTATIONS 4000

static uint32_t rng = 2463534242u;

static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static size_t mutate(uint8_t *buf, size_t len, size_t cap)
{
    switch (next_rand() % 4) {
    case 0: if (len) buf[next_rand() % len] ^= (uint8_t)(1u << (next_rand() % 8)); break;
    case 1: if (len) buf[next_rand() % len] = (uint8_t)next_rand(); break;
    case 2: if (len) len = next_rand() % len; break;
    case 3:
        if (len < cap) {
            size_t at = len ? next_rand() % len : 0;
            memmove(buf + at + 1, buf + at, len - at);
            buf[at] = (uint8_t)next_rand();
            len++;
        }
        break;
    }
    return len;
}

int main(int argc, char **argv)
{
    static uint8_t seed[70000], buf[70000];
    long files = 0, runs = 0;
    int i;
    for (i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        if (!d) { fprintf(stderr, "replay: cannot open %s\n", argv[i]); return 1; }
        while ((e = readdir(d)) != NULL) {
            char path[4096];
            FILE *f;
            size_t len, n;
            int m;
            if (e->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (!(f = fopen(path, "rb"))) continue;
            len = fread(seed, 1, sizeof seed, f);
            fclose(f);
            LLVMFuzzerTestOneInput(seed, len);
            files++;
            for (m = 0; m < MUTATIONS; m++) {
                memcpy(buf, seed, len);
                n = mutate(buf, len, sizeof buf);
                n = mutate(buf, n, sizeof buf);
                LLVMFuzzerTestOneInput(buf, n);
                runs++;
            }
        }
        closedir(d);
    }
    printf("replay: %ld corpus files, %ld mutations, no crash\n", files, runs);
    return files ? 0 : 1;
}
