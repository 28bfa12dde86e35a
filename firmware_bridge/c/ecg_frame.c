/* ecg_frame.c -- reference encoder of the ecg-edge frame protocol v1 (see ecg_frame.h). */
#include "ecg_frame.h"

#include <string.h>

static void put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

uint16_t ecgf_crc16_ccitt(const uint8_t *data, size_t len, uint16_t init) {
    uint16_t crc = init;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint16_t)data[i] << 8);
        for (int b = 0; b < 8; b++) {
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

uint32_t ecgf_crc32(const uint8_t *data, size_t len) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int b = 0; b < 8; b++) {
            crc = (crc & 1u) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
    }
    return crc ^ 0xFFFFFFFFu;
}

int ecgf_stream_init(ecgf_stream_t *s, uint16_t device_id, uint8_t sample_format,
                     uint8_t n_channels, uint32_t fs_millihz, const float *adc_gain,
                     const int32_t *baseline, uint32_t first_sample_counter) {
    if (s == NULL || adc_gain == NULL || baseline == NULL) return -ECGF_E_ARG;
    if (sample_format != ECGF_FMT_INT16 && sample_format != ECGF_FMT_INT24) return -ECGF_E_ARG;
    if (n_channels < 1u || n_channels > ECGF_MAX_CHANNELS || fs_millihz == 0u) return -ECGF_E_ARG;
    memset(s, 0, sizeof *s);
    s->device_id = device_id;
    s->sample_format = sample_format;
    s->n_channels = n_channels;
    s->fs_millihz = fs_millihz;
    for (uint8_t c = 0; c < n_channels; c++) {
        /* ECGF_MIN_GAIN..ECGF_MAX_GAIN counts/mV; the comparisons also reject NaN and inf */
        if (!(adc_gain[c] >= ECGF_MIN_GAIN && adc_gain[c] <= ECGF_MAX_GAIN)) return -ECGF_E_ARG;
        s->adc_gain[c] = adc_gain[c];
        s->baseline[c] = baseline[c];
    }
    s->next_seq = 0u;
    s->next_sample_counter = first_sample_counter;
    return ECGF_OK;
}

size_t ecgf_frame_size(const ecgf_stream_t *s, uint8_t n_samples) {
    if (s == NULL || n_samples == 0u) return 0u;
    size_t bps = (s->sample_format == ECGF_FMT_INT24) ? 3u : 2u;
    return ECGF_FRAME_SIZE((size_t)s->n_channels, (size_t)n_samples, bps);
}

int32_t ecgf_encode_frame(ecgf_stream_t *s, const int32_t *samples, uint8_t n_samples,
                          uint8_t *out, size_t out_size) {
    if (s == NULL || samples == NULL || out == NULL || n_samples == 0u) return -ECGF_E_ARG;
    const size_t nch = s->n_channels;
    const size_t n_values = (size_t)n_samples * nch;
    const int int24 = (s->sample_format == ECGF_FMT_INT24);
    const int32_t lo = int24 ? -8388608 : -32768;
    const int32_t hi = int24 ? 8388607 : 32767;
    for (size_t i = 0; i < n_values; i++) {
        if (samples[i] < lo || samples[i] > hi) return -ECGF_E_RANGE;
    }
    const size_t len = ecgf_frame_size(s, n_samples);
    if (out_size < len) return -ECGF_E_BUFFER;

    uint8_t *p = out;
    p[0] = ECGF_SYNC0;
    p[1] = ECGF_SYNC1;
    p[2] = ECGF_VERSION;
    p[3] = s->sample_format;
    p[4] = (uint8_t)nch;
    p[5] = n_samples;
    put_u16(p + 6, s->device_id);
    put_u16(p + 8, s->next_seq);
    put_u32(p + 10, s->next_sample_counter);
    put_u32(p + 14, s->fs_millihz);
    put_u16(p + 18, ecgf_crc16_ccitt(p, 18u, 0xFFFFu));
    p += ECGF_HEADER_SIZE;
    for (size_t c = 0; c < nch; c++) {
        uint32_t bits;
        memcpy(&bits, &s->adc_gain[c], sizeof bits);
        put_u32(p, bits);
        put_u32(p + 4, (uint32_t)s->baseline[c]);
        p += ECGF_CHANNEL_META_SIZE;
    }
    for (size_t i = 0; i < n_values; i++) {
        uint32_t v = (uint32_t)samples[i];
        *p++ = (uint8_t)(v & 0xFFu);
        *p++ = (uint8_t)((v >> 8) & 0xFFu);
        if (int24) *p++ = (uint8_t)((v >> 16) & 0xFFu);
    }
    put_u32(p, ecgf_crc32(out, (size_t)(p - out)));
    s->next_seq = (uint16_t)(s->next_seq + 1u);
    s->next_sample_counter += n_samples;
    return (int32_t)len;
}
