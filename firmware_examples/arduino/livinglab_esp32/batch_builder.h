// A batch gathered reading by reading and sealed into a livinglab frame (livinglab_frame.h).
//
// Plain C++11 without Arduino, so the host compiles it too: tests/firmware/test_esp32_sketch.py
// builds every vector case of broker/vectors/ through this class with g++ and compares the frames
// with the .bin files byte for byte. Sensor keys are numbered in the order they are first added,
// as the platform's encoder does.
//
//   livinglab::BatchBuilder<60, 4> batch;
//   batch.add(now_ns, "esp32.temperature", 21.5);   // false when full or the key is invalid
//   size_t size = batch.build(seq, synced, false, 0, buffer, sizeof buffer);
//   ... publish buffer[0..size) ...; batch.clear();

#ifndef LIVINGLAB_BATCH_BUILDER_H
#define LIVINGLAB_BATCH_BUILDER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "livinglab_frame.h"

namespace livinglab {

template <uint32_t MaxReadings, uint16_t MaxKeys>
class BatchBuilder {
 public:
  BatchBuilder() : count_(0), key_count_(0) {}

  // The key's index, adding it when new; -1 when the key is invalid or there is no room. The
  // builder keeps the pointer: pass string literals or strings that outlive the batch.
  int key(const char* name) {
    for (uint16_t i = 0; i < key_count_; ++i) {
      if (strcmp(keys_[i], name) == 0) {
        return i;
      }
    }
    if (key_count_ == MaxKeys || !valid_key(name)) {
      return -1;
    }
    keys_[key_count_] = name;
    return key_count_++;
  }

  bool add(int64_t time_ns, const char* name, double value) {
    if (count_ == MaxReadings) {
      return false;
    }
    int index = key(name);
    if (index < 0) {
      return false;
    }
    Reading reading = {time_ns, static_cast<uint16_t>(index), value};
    readings_[count_++] = reading;
    return true;
  }

  uint32_t size() const { return count_; }
  bool full() const { return count_ == MaxReadings; }
  void clear() {
    count_ = 0;
    key_count_ = 0;
  }

  // The frame's length in bytes when sealed now (0 when the batch is invalid).
  size_t frame_size(uint64_t seq) const {
    return livinglab::frame_size(batch(seq, false, false, 0));
  }

  // Write the frame into `out`; its length, or 0 when the batch is invalid or `capacity` short.
  size_t build(uint64_t seq, bool clock_synced, bool offset_known, int64_t offset_ns,
               uint8_t* out, size_t capacity) const {
    return build_frame(batch(seq, clock_synced, offset_known, offset_ns), out, capacity);
  }

 private:
  Batch batch(uint64_t seq, bool clock_synced, bool offset_known, int64_t offset_ns) const {
    Batch b = {seq, clock_synced, offset_known, offset_known ? offset_ns : 0,
               keys_, key_count_, readings_, count_};
    return b;
  }

  Reading readings_[MaxReadings];
  const char* keys_[MaxKeys];
  uint32_t count_;
  uint16_t key_count_;
};

}  // namespace livinglab

#endif  // LIVINGLAB_BATCH_BUILDER_H
