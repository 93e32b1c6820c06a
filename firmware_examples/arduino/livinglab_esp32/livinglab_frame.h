// livinglab wire format, version 1: build a telemetry batch as a binary frame.
//
// Header-only, no allocation, no Arduino dependency (plain C++11), so the same file builds on an
// ESP32, an RP2040, an AVR board or a PC. Every multi-byte field is written byte by byte, least
// significant byte first, so the frame is little-endian whatever the CPU. The layout is described
// in broker/README.md; in short:
//
//   "LL" | version 1 | flags | seq u64 | offset_ns i64 | n u32 | k u16 | 0 u16     (28 bytes)
//   k keys, each a length byte then the key | zero padding to a multiple of 8
//   time_ns i64[n] | value f64[n] | sensor u16[n]
//
// Check your build against the test vectors: build the frame of a vector case (for instance
// broker/vectors/several_sensors.expected.json), print it as hex and compare it with the .bin file
// (`xxd -p broker/vectors/several_sensors.bin`). vector_check.cpp does exactly this on a PC, and
// tests/edge/test_firmware_vectors.py compiles and runs it with g++.
//
// Usage:
//   const char* keys[] = {"bme280.temperature", "bme280.humidity"};
//   livinglab::Reading readings[] = {{t0, 0, 21.5}, {t0, 1, 48.25}};
//   livinglab::Batch batch = {seq, true, false, 0, keys, 2, readings, 2};
//   uint8_t buffer[256];
//   size_t size = livinglab::build_frame(batch, buffer, sizeof buffer);  // 0: invalid or too small
//   if (size) mqtt.publish("livinglab/v1/<device>/telemetry", buffer, size);  // QoS 1 if you can

#ifndef LIVINGLAB_FRAME_H
#define LIVINGLAB_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace livinglab {

const uint8_t WIRE_VERSION = 1;
const uint8_t FLAG_SYNCED = 0x01;        // the clock was synchronised (NTP, GPS) for this batch
const uint8_t FLAG_OFFSET_KNOWN = 0x02;  // offset_ns holds a measured clock offset
const uint32_t MAX_READINGS = 200000UL;
const size_t HEADER_SIZE = 28;
const size_t MAX_KEY_LENGTH = 63;

struct Reading {
  int64_t time_ns;  // ns since 1970-01-01T00:00:00Z
  uint16_t sensor;  // index into Batch::keys
  double value;     // NAN for a missing value
};

struct Batch {
  uint64_t seq;          // 0 .. 2^63-1, never reused by this device; same seq when re-sent
  bool clock_synced;
  bool offset_known;
  int64_t offset_ns;     // written only when offset_known, else 0
  const char* const* keys;
  uint16_t key_count;
  const Reading* readings;
  uint32_t count;
};

inline void put_le(uint8_t* out, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) {
    out[i] = static_cast<uint8_t>(value >> (8 * i));
  }
}

// The IEEE 754 binary64 bits of a binary32 float, for boards whose double is 32 bits (AVR).
inline uint64_t binary64_from_float(float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  uint64_t sign = static_cast<uint64_t>(bits >> 31) << 63;
  uint32_t exponent = (bits >> 23) & 0xFF;
  uint32_t mantissa = bits & 0x7FFFFF;
  if (exponent == 0xFF) {  // infinity, or NaN with its payload kept (quiet NaN -> 0x7ff8...)
    return sign | 0x7FF0000000000000ULL | (static_cast<uint64_t>(mantissa) << 29);
  }
  if (exponent == 0) {
    if (mantissa == 0) {
      return sign;  // +0.0 or -0.0
    }
    int32_t e = -126;  // a subnormal float is a normal double: shift the leading 1 into place
    while (!(mantissa & 0x800000)) {
      mantissa <<= 1;
      --e;
    }
    mantissa &= 0x7FFFFF;
    return sign | (static_cast<uint64_t>(e + 1023) << 52) | (static_cast<uint64_t>(mantissa) << 29);
  }
  return sign | (static_cast<uint64_t>(exponent - 127 + 1023) << 52) |
         (static_cast<uint64_t>(mantissa) << 29);
}

inline uint64_t binary64_bits(double value) {
  if (sizeof(double) == 8) {
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
  }
  return binary64_from_float(static_cast<float>(value));
}

// A sensor key: 1-63 characters of a-z 0-9 _ . -, starting with a letter or a digit.
inline bool valid_key(const char* key) {
  size_t length = strlen(key);
  if (length < 1 || length > MAX_KEY_LENGTH) {
    return false;
  }
  for (size_t i = 0; i < length; ++i) {
    char c = key[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) {
      return false;
    }
  }
  return true;
}

// The frame's size in bytes, or 0 if the batch breaks the contract.
inline size_t frame_size(const Batch& batch) {
  if (batch.count > MAX_READINGS || batch.seq >> 63) {
    return 0;
  }
  size_t size = HEADER_SIZE;
  for (uint16_t i = 0; i < batch.key_count; ++i) {
    if (!valid_key(batch.keys[i])) {
      return 0;
    }
    size += 1 + strlen(batch.keys[i]);
  }
  for (uint32_t i = 0; i < batch.count; ++i) {
    if (batch.readings[i].sensor >= batch.key_count) {
      return 0;
    }
  }
  size += (8 - size % 8) % 8;  // the columns start at a multiple of 8 bytes
  return size + 18 * static_cast<size_t>(batch.count);
}

// Write the frame into out; return its size, or 0 if the batch is invalid or out is too small.
inline size_t build_frame(const Batch& batch, uint8_t* out, size_t capacity) {
  size_t size = frame_size(batch);
  if (size == 0 || size > capacity) {
    return 0;
  }
  memset(out, 0, size);  // reserved field and padding are zero
  out[0] = 'L';
  out[1] = 'L';
  out[2] = WIRE_VERSION;
  out[3] = (batch.clock_synced ? FLAG_SYNCED : 0) | (batch.offset_known ? FLAG_OFFSET_KNOWN : 0);
  put_le(out + 4, batch.seq, 8);
  put_le(out + 12, batch.offset_known ? static_cast<uint64_t>(batch.offset_ns) : 0, 8);
  put_le(out + 20, batch.count, 4);
  put_le(out + 24, batch.key_count, 2);
  size_t pos = HEADER_SIZE;
  for (uint16_t i = 0; i < batch.key_count; ++i) {
    size_t length = strlen(batch.keys[i]);
    out[pos] = static_cast<uint8_t>(length);
    memcpy(out + pos + 1, batch.keys[i], length);
    pos += 1 + length;
  }
  size_t n = batch.count;
  size_t times = size - 18 * n;
  for (size_t i = 0; i < n; ++i) {
    const Reading& r = batch.readings[i];
    put_le(out + times + 8 * i, static_cast<uint64_t>(r.time_ns), 8);
    put_le(out + times + 8 * n + 8 * i, binary64_bits(r.value), 8);
    put_le(out + times + 16 * n + 2 * i, r.sensor, 2);
  }
  return size;
}

}  // namespace livinglab

#endif  // LIVINGLAB_FRAME_H
