// Declarations of the Arduino-ESP32 core that livinglab_esp32.ino uses, with the core's
// signatures, so that g++ can check the sketch on the host (-fsyntax-only; nothing links).
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

typedef bool boolean;

class HardwareSerial {
 public:
  void begin(unsigned long baud);
  size_t println(const char* text);
};
extern HardwareSerial Serial;

void delay(uint32_t ms);
unsigned long millis();
float temperatureRead();
void configTime(long gmtOffset_sec, int daylightOffset_sec, const char* server1,
                const char* server2 = nullptr, const char* server3 = nullptr);
bool getLocalTime(struct tm* info, uint32_t ms = 5000);
