// Preferences (NVS) of the Arduino-ESP32 core, the members livinglab_esp32.ino uses (host check).
#pragma once
#include "Arduino.h"

class Preferences {
 public:
  bool begin(const char* name, bool readOnly = false, const char* partition_label = nullptr);
  uint64_t getULong64(const char* key, uint64_t defaultValue = 0);
  size_t putULong64(const char* key, uint64_t value);
};
