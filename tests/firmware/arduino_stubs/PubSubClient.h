// PubSubClient 2.8 (knolleary/pubsubclient), the members livinglab_esp32.ino uses, with the
// library's signatures (host check only).
#pragma once
#include "Arduino.h"
#include "WiFiClientSecure.h"

class PubSubClient {
 public:
  explicit PubSubClient(Client& client);
  PubSubClient& setServer(const char* domain, uint16_t port);
  PubSubClient& setKeepAlive(uint16_t keepAlive);
  boolean setBufferSize(uint16_t size);
  boolean connect(const char* id, const char* user, const char* pass, const char* willTopic,
                  uint8_t willQos, boolean willRetain, const char* willMessage);
  boolean connected();
  boolean loop();
  boolean publish(const char* topic, const char* payload, boolean retained);
  boolean publish(const char* topic, const uint8_t* payload, unsigned int plength,
                  boolean retained);
};
