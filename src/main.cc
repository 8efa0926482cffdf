// Wiring only: parse flags, build objects, run the loop. Filled in as layers land.
#include <cstdio>

int main() {
  printf("spegel %s\n", SPEGEL_VERSION);
  return 0;
}
