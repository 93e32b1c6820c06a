// Build vector cases with livinglab_frame.h on a PC and print each frame as hex, one line per case.
//
//   g++ -std=c++11 -Wall -Wextra -Werror -o vector_check vector_check.cpp
//   ./vector_check several_sensors      # compare with: xxd -p -c 0 broker/vectors/several_sensors.bin
//
// It also checks binary64_from_float (the path an AVR board, whose double is 32 bits, takes)
// against the PC's own float-to-double conversion, and exits with status 1 on any mismatch.

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <limits>

#include "livinglab_frame.h"

namespace {

const int64_t T0_NS = 1767225600000000000LL;  // 2026-01-01T00:00:00Z
const int64_t S = 1000000000LL;

void print_hex(const uint8_t* data, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    printf("%02x", data[i]);
  }
  printf("\n");
}

int print_frame(const livinglab::Batch& batch) {
  uint8_t buffer[512];
  size_t size = livinglab::build_frame(batch, buffer, sizeof buffer);
  if (size == 0) {
    fprintf(stderr, "build_frame refused the batch\n");
    return 1;
  }
  print_hex(buffer, size);
  return 0;
}

// broker/vectors/several_sensors.expected.json
int several_sensors() {
  const char* keys[] = {"bme280.temperature", "bme280.humidity", "sds011.pm2_5"};
  const livinglab::Reading readings[] = {
      {T0_NS, 0, 21.5},
      {T0_NS, 1, 48.25},
      {T0_NS + 250000000LL, 2, 7.3},
      {T0_NS + 10 * S, 0, 21.625},
      {T0_NS + 10 * S, 1, 48.0},
      {T0_NS + 10 * S + 250000000LL, 2, 12.0},
  };
  const livinglab::Batch batch = {42, true, true, 1500000, keys, 3, readings, 6};
  return print_frame(batch);
}

// broker/vectors/nan_value.expected.json
int nan_value() {
  const char* keys[] = {"co2"};
  const livinglab::Reading readings[] = {
      {T0_NS, 0, 415.0},
      {T0_NS + 60 * S, 0, static_cast<double>(NAN)},
      {T0_NS + 120 * S, 0, 417.5},
  };
  const livinglab::Batch batch = {8, true, true, -250000, keys, 1, readings, 3};
  return print_frame(batch);
}

// broker/vectors/negative_time.expected.json
int negative_time() {
  const char* keys[] = {"edge.case"};
  const livinglab::Reading readings[] = {
      {-S, 0, -0.0},
      {0, 0, 5e-324},
      {1, 0, 1.7976931348623157e308},
  };
  const livinglab::Batch batch = {9223372036854775807ULL, false, true, 0, keys, 1, readings, 3};
  return print_frame(batch);
}

int check_float_conversion() {
  const float cases[] = {
      0.0f, -0.0f, 1.0f, -21.5f, 7.3f, 3.4028235e38f,
      std::numeric_limits<float>::min(), std::numeric_limits<float>::denorm_min(),
      -std::numeric_limits<float>::denorm_min(), 1.0e-40f, 5.877472e-39f,
      std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
      std::numeric_limits<float>::quiet_NaN(),
  };
  int failures = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    double wide = static_cast<double>(cases[i]);
    uint64_t expected;
    memcpy(&expected, &wide, sizeof expected);
    uint64_t got = livinglab::binary64_from_float(cases[i]);
    if (got != expected) {
      fprintf(stderr, "binary64_from_float(%g): got %016llx, expected %016llx\n",
              static_cast<double>(cases[i]), static_cast<unsigned long long>(got),
              static_cast<unsigned long long>(expected));
      ++failures;
    }
  }
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (check_float_conversion()) {
    return 1;
  }
  if (argc != 2) {
    fprintf(stderr, "usage: %s several_sensors|nan_value|negative_time\n", argv[0]);
    return 2;
  }
  if (strcmp(argv[1], "several_sensors") == 0) {
    return several_sensors();
  }
  if (strcmp(argv[1], "nan_value") == 0) {
    return nan_value();
  }
  if (strcmp(argv[1], "negative_time") == 0) {
    return negative_time();
  }
  fprintf(stderr, "unknown case %s\n", argv[1]);
  return 2;
}
