/*
 * gen_golden.c -- writes the golden frame vectors of protocol v1 to stdout.
 *
 * Built and run by tests/firmware_bridge/test_c_encoder.py together with
 * firmware_bridge/c/ecg_frame.c. Its output must equal golden/frames_v1.bin
 * byte for byte; regenerate that file (only on a deliberate protocol change) with
 *
 *     cc -std=c99 -I firmware_bridge/c firmware_bridge/c/ecg_frame.c \
 *        tests/firmware_bridge/golden/gen_golden.c -o /tmp/gen_golden
 *     /tmp/gen_golden > tests/firmware_bridge/golden/frames_v1.bin
 *
 * Samples come from a 32-bit LCG (x = x * 1664525 + 1013904223, value =
 * lo + (x >> 8) % (hi - lo + 1)) that the Python test reproduces; the stream
 * table below is mirrored by GOLDEN_STREAMS in the test.
 */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "ecg_frame.h"

static uint32_t lcg_state = 12345u;

static int32_t lcg_value(int32_t lo, int32_t hi) {
    lcg_state = lcg_state * 1664525u + 1013904223u;
    uint32_t span = (uint32_t)((int64_t)hi - (int64_t)lo + 1);
    return (int32_t)((int64_t)lo + (int64_t)((lcg_state >> 8) % span));
}

typedef struct {
    uint16_t device_id;
    uint8_t fmt;
    uint8_t nch;
    uint32_t fs_millihz;
    float gain[ECGF_MAX_CHANNELS];
    int32_t baseline[ECGF_MAX_CHANNELS];
    uint32_t first_counter;
    uint16_t first_seq;
    uint8_t n_frames;
    uint8_t samples_per_frame;
    int32_t lo, hi;
} spec_t;

static const spec_t SPECS[] = {
    {1, ECGF_FMT_INT16, 2, 360000u, {200.0f, 200.0f}, {1024, 1024}, 0u, 0u, 3, 36, 0, 2047},
    {0xBEEF, ECGF_FMT_INT24, 1, 250000u, {1000.5f}, {-5}, 0xFFFFFFF0u, 0xFFFEu, 4, 10,
     -8388608, 8388607},
    {7, ECGF_FMT_INT16, 8, 130000u, {0.25f, 1.0f, 2.5f, 100.0f, 200.0f, 1000.0f, 1e6f, 3.0e-3f},
     {-32768, -1, 0, 1, 1024, 2048, 32767, 7}, 123456789u, 42u, 1, 13, -32768, 32767},
    {2, ECGF_FMT_INT16, 2, 250000u, {200.0f, 400.0f}, {0, 0}, 5u, 65535u, 2, 1, -32768, 32767},
    {3, ECGF_FMT_INT24, 8, 1000000u, {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f},
     {0, 0, 0, 0, 0, 0, 0, 0}, 0u, 0u, 1, 255, -8388608, 8388607},
};

int main(void) {
    static int32_t samples[ECGF_MAX_SAMPLES * ECGF_MAX_CHANNELS];
    static uint8_t frame[ECGF_FRAME_SIZE(ECGF_MAX_CHANNELS, ECGF_MAX_SAMPLES, 3)];
    for (size_t k = 0; k < sizeof SPECS / sizeof SPECS[0]; k++) {
        const spec_t *sp = &SPECS[k];
        ecgf_stream_t s;
        if (ecgf_stream_init(&s, sp->device_id, sp->fmt, sp->nch, sp->fs_millihz, sp->gain,
                             sp->baseline, sp->first_counter) != ECGF_OK) {
            fprintf(stderr, "init failed for spec %zu\n", k);
            return 1;
        }
        s.next_seq = sp->first_seq;
        for (uint8_t f = 0; f < sp->n_frames; f++) {
            size_t n_values = (size_t)sp->samples_per_frame * sp->nch;
            for (size_t i = 0; i < n_values; i++) samples[i] = lcg_value(sp->lo, sp->hi);
            if (f == 0 && n_values >= 2) { /* make the extremes appear */
                samples[0] = sp->lo;
                samples[1] = sp->hi;
            }
            int32_t len = ecgf_encode_frame(&s, samples, sp->samples_per_frame, frame,
                                            sizeof frame);
            if (len <= 0) {
                fprintf(stderr, "encode failed (%d) for spec %zu frame %u\n", (int)len, k, f);
                return 1;
            }
            fwrite(frame, 1, (size_t)len, stdout);
        }
    }
    /* negative paths: out of range sample and short buffer must be refused */
    {
        ecgf_stream_t s;
        const float g[1] = {1.0f};
        const int32_t b[1] = {0};
        int32_t bad[1] = {40000};
        ecgf_stream_init(&s, 9, ECGF_FMT_INT16, 1, 1000u, g, b, 0u);
        if (ecgf_encode_frame(&s, bad, 1, frame, sizeof frame) != -ECGF_E_RANGE) return 2;
        bad[0] = 1;
        if (ecgf_encode_frame(&s, bad, 1, frame, 10) != -ECGF_E_BUFFER) return 3;
        if (s.next_seq != 0u || s.next_sample_counter != 0u) return 4;
    }
    return 0;
}
