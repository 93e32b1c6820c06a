// livinglab device for an ESP32 with the Arduino core and PubSubClient (README.md beside it).
//
// Joins the Wi-Fi, sets the clock by NTP, connects to the broker over TLS as its own device
// (client id = user name = device id), publishes a retained `online` status with an `offline`
// last will, and sends its readings as binary frames built by batch_builder.h and
// livinglab_frame.h, the code the host tests check against broker/vectors/ with g++.
//
// Delivery: PubSubClient publishes with QoS 0 only, so no PUBACK says the broker has a batch.
// The sketch keeps each sealed batch (with its seq) until the connection has stayed up for
// CONFIRM_MS after the send (three keepalive periods, so a PINGREQ sent after the batch has had its
// PINGRESP: the broker read the bytes before it), and sends it again with the same seq after a
// reconnection otherwise. The platform stores each (device, seq) once, so a re-send never doubles
// a reading. The seq is kept in flash (Preferences) and reserved before a batch is sent, so a
// reboot never reuses one. For real QoS 1 use the ESP-IDF esp-mqtt client with the same frames.

#include <Preferences.h>
#include <PubSubClient.h>
#include <WiFi.h>
#include <WiFiClientSecure.h>
#include <time.h>

#include "batch_builder.h"
#include "livinglab_frame.h"

// --- settings: change these -------------------------------------------------------------
const char* WIFI_SSID = "your-network";
const char* WIFI_PASSWORD = "your-wifi-password";
const char* BROKER_HOST = "mqtt.livinglab.example.si";
const uint16_t BROKER_PORT = 8883;
const char* DEVICE_ID = "esp32-air-01";                     // `livinglab devices add` id
const char* DEVICE_PASSWORD = "from-livinglab-devices-add";  // printed once by that command
// The broker's CA certificate (PEM), e.g. the contents of broker/certs/ca.crt.
const char* CA_CERT = "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n";
const char* SENSOR_KEY = "esp32.temperature";  // as registered with --sensor
const uint32_t SAMPLE_INTERVAL_MS = 10000;
const uint16_t KEEPALIVE_S = 15;
// A PINGREQ goes out one keepalive after the send; without its PINGRESP within another keepalive
// PubSubClient drops the connection. Three periods leave room for both.
const uint32_t CONFIRM_MS = 3UL * KEEPALIVE_S * 1000UL;
// -----------------------------------------------------------------------------------------

const uint32_t BATCH_READINGS = 30;  // one batch every 5 minutes at one reading per 10 s
const size_t FRAME_CAPACITY = 512;   // 28 + keys + 18 bytes per reading: 30 readings fit

WiFiClientSecure tls;
PubSubClient mqtt(tls);
Preferences flash;
livinglab::BatchBuilder<BATCH_READINGS, 4> batch;

char status_topic[96];
char telemetry_topic[96];
uint8_t frame[FRAME_CAPACITY];
size_t frame_length = 0;      // a sealed batch not yet confirmed, or 0
uint32_t sent_at_ms = 0;      // when it was last sent, 0: not sent on this connection
bool clock_synced = false;
uint32_t last_sample_ms = 0;

int64_t now_ns() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<int64_t>(tv.tv_sec) * 1000000000LL + static_cast<int64_t>(tv.tv_usec) * 1000LL;
}

// Reserve the next seq in flash before the batch is sent: a reboot never reuses it.
uint64_t next_seq() {
  uint64_t seq = flash.getULong64("seq", 0);
  flash.putULong64("seq", seq + 1);
  return seq;
}

float read_sensor() {
  return temperatureRead();  // the chip's own sensor; replace with your sensor's driver
}

void publish_status(const char* state) {
  char payload[128];
  snprintf(payload, sizeof payload, "{\"v\":1,\"state\":\"%s\",\"time_ns\":%lld,\"clock_synced\":%s}",
           state, static_cast<long long>(now_ns()), clock_synced ? "true" : "false");
  mqtt.publish(status_topic, payload, true);
}

bool connect_broker() {
  mqtt.setServer(BROKER_HOST, BROKER_PORT);
  mqtt.setKeepAlive(KEEPALIVE_S);
  mqtt.setBufferSize(FRAME_CAPACITY + 128);
  // The broker publishes this retained status for us if we vanish without DISCONNECT.
  if (!mqtt.connect(DEVICE_ID, DEVICE_ID, DEVICE_PASSWORD, status_topic, 1, true,
                    "{\"v\":1,\"state\":\"offline\"}")) {
    return false;
  }
  publish_status("online");
  sent_at_ms = 0;  // a batch sent on the old connection is not confirmed: send it again
  return true;
}

void setup() {
  Serial.begin(115200);
  flash.begin("livinglab", false);
  snprintf(status_topic, sizeof status_topic, "livinglab/v1/%s/status", DEVICE_ID);
  snprintf(telemetry_topic, sizeof telemetry_topic, "livinglab/v1/%s/telemetry", DEVICE_ID);
  WiFi.mode(WIFI_STA);
  WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
  while (WiFi.status() != WL_CONNECTED) {
    delay(500);
  }
  configTime(0, 0, "pool.ntp.org");
  struct tm now;
  clock_synced = getLocalTime(&now, 10000);  // waits up to 10 s for NTP
  if (!clock_synced) {
    Serial.println("NTP failed: readings are sent with clock synced = false");
  }
  tls.setCACert(CA_CERT);
}

void loop() {
  uint32_t now_ms = millis();
  if (last_sample_ms == 0 || now_ms - last_sample_ms >= SAMPLE_INTERVAL_MS) {
    last_sample_ms = now_ms;
    batch.add(now_ns(), SENSOR_KEY, read_sensor());
  }
  if (frame_length == 0 && batch.full()) {
    frame_length = batch.build(next_seq(), clock_synced, false, 0, frame, sizeof frame);
    batch.clear();
    sent_at_ms = 0;
  }
  if (!mqtt.connected() && !connect_broker()) {
    delay(5000);  // the sealed batch waits, with its seq
    return;
  }
  mqtt.loop();  // keepalive pings; disconnects when the broker stops answering
  if (frame_length != 0 && sent_at_ms == 0) {
    if (mqtt.publish(telemetry_topic, frame, frame_length, false)) {
      sent_at_ms = millis() | 1;
    }
  } else if (frame_length != 0 && millis() - sent_at_ms >= CONFIRM_MS) {
    frame_length = 0;  // the connection outlived a ping round trip after the send
  }
  delay(10);
}
