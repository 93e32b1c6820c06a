// The WiFi object of the Arduino-ESP32 core, as livinglab_esp32.ino uses it (host check only).
#pragma once
#include "Arduino.h"

typedef enum { WL_IDLE_STATUS = 0, WL_CONNECTED = 3 } wl_status_t;
typedef enum { WIFI_OFF = 0, WIFI_STA = 1 } wifi_mode_t;

class WiFiClass {
 public:
  bool mode(wifi_mode_t mode);
  wl_status_t begin(const char* ssid, const char* passphrase = nullptr);
  wl_status_t status();
};
extern WiFiClass WiFi;
