// WiFiClientSecure of the Arduino-ESP32 core, as livinglab_esp32.ino uses it (host check only).
#pragma once
#include "Arduino.h"

class Client {};

class WiFiClientSecure : public Client {
 public:
  void setCACert(const char* rootCA);
};
