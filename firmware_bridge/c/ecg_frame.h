/*
 * ecg_frame.h -- reference encoder of the ecg-edge frame protocol, version 1.
 *
 * For the wearable's firmware: no dynamic allocation, no libc beyond <string.h>
 * (memcpy), frames are built into a buffer the caller owns. The byte layout is
 * specified in firmware_bridge/PROTOCOL.md; tests/firmware_bridge/test_c_encoder.py
 * compiles this file and checks its frames byte for byte against the Python
 * encoder and the golden vectors in tests/firmware_bridge/golden/.
 *
 * Assumes IEEE-754 binary32 `float` (true on every Cortex-M, ESP32, RISC-V
 * target we know of). Output is little-endian regardless of the CPU.
 *
 * Typical use (2 channels, 360 Hz, 36 samples per 184-byte frame):
 *
 *     static ecgf_stream_t s;
 *     static uint8_t frame[ECGF_FRAME_SIZE(2, 36, 2)];
 *     const float gain[2] = {200.0f, 200.0f};
 *     const int32_t base[2] = {1024, 1024};
 *     ecgf_stream_init(&s, 1, ECGF_FMT_INT16, 2, 360000u, gain, base, 0u);
 *     ... fill int32_t samples[36 * 2] interleaved (s0c0, s0c1, s1c0, ...) ...
 *     int32_t n = ecgf_encode_frame(&s, samples, 36, frame, sizeof frame);
 *     if (n > 0) uart_write(frame, (size_t)n);
 */
#ifndef ECG_FRAME_H
#define ECG_FRAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ECGF_SYNC0 0xA5u
#define ECGF_SYNC1 0x5Au
#define ECGF_VERSION 1u
#define ECGF_FMT_INT16 1u
#define ECGF_FMT_INT24 2u
/* The count that marks an invalid sample (lead off, saturated, missed): the format's most
 * negative value; the edge reads it as missing signal (PROTOCOL.md, "Invalid samples"). */
#define ECGF_INVALID_INT16 (-32768L)
#define ECGF_INVALID_INT24 (-8388608L)
/* The ADC gains a frame may carry (counts per mV; protocol.MIN_ADC_GAIN / MAX_ADC_GAIN): the
 * edge drops a frame with a gain outside them. */
#define ECGF_MIN_GAIN 1e-3f
#define ECGF_MAX_GAIN 1e9f
#define ECGF_HEADER_SIZE 20u
#define ECGF_CHANNEL_META_SIZE 8u
#define ECGF_CRC_SIZE 4u
#define ECGF_MAX_CHANNELS 8u
#define ECGF_MAX_SAMPLES 255u

/* Frame size in bytes; bps = bytes per sample (2 for int16, 3 for int24). */
#define ECGF_FRAME_SIZE(nch, ns, bps) \
    (ECGF_HEADER_SIZE + ECGF_CHANNEL_META_SIZE * (nch) + (ns) * (nch) * (bps) + ECGF_CRC_SIZE)

/* Error codes returned (negated) by ecgf_encode_frame / ecgf_stream_init. */
#define ECGF_OK 0
#define ECGF_E_ARG 1      /* NULL pointer or field out of range */
#define ECGF_E_RANGE 2    /* a sample does not fit the sample format */
#define ECGF_E_BUFFER 3   /* out_size too small for the frame */

typedef struct {
    uint16_t device_id;
    uint8_t sample_format;   /* ECGF_FMT_INT16 or ECGF_FMT_INT24 */
    uint8_t n_channels;      /* 1..ECGF_MAX_CHANNELS */
    uint32_t fs_millihz;     /* sample rate in mHz: 360 Hz -> 360000 */
    float adc_gain[ECGF_MAX_CHANNELS];      /* ADC counts per mV */
    int32_t baseline[ECGF_MAX_CHANNELS];    /* ADC counts at 0 mV */
    uint16_t next_seq;            /* sequence number of the next frame */
    uint32_t next_sample_counter; /* index of the next frame's first sample */
} ecgf_stream_t;

/* Initialise a stream. Returns ECGF_OK or -ECGF_E_ARG. */
int ecgf_stream_init(ecgf_stream_t *s, uint16_t device_id, uint8_t sample_format,
                     uint8_t n_channels, uint32_t fs_millihz, const float *adc_gain,
                     const int32_t *baseline, uint32_t first_sample_counter);

/* Size in bytes of a frame of n_samples for this stream (0 on bad arguments). */
size_t ecgf_frame_size(const ecgf_stream_t *s, uint8_t n_samples);

/*
 * Encode n_samples (1..255) interleaved samples (samples[i * n_channels + c])
 * into out. On success returns the frame length in bytes and advances
 * next_seq (mod 2^16) and next_sample_counter (mod 2^32); on failure returns
 * -ECGF_E_ARG, -ECGF_E_RANGE or -ECGF_E_BUFFER and leaves the stream unchanged.
 */
int32_t ecgf_encode_frame(ecgf_stream_t *s, const int32_t *samples, uint8_t n_samples,
                          uint8_t *out, size_t out_size);

/* CRC-16/CCITT-FALSE: poly 0x1021, init as given (0xFFFF), no reflection. */
uint16_t ecgf_crc16_ccitt(const uint8_t *data, size_t len, uint16_t init);

/* CRC-32/ISO-HDLC (zlib): reflected poly 0xEDB88320, init/xorout 0xFFFFFFFF. */
uint32_t ecgf_crc32(const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* ECG_FRAME_H */
