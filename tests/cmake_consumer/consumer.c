/* consumer.c - the smallest client of an installed lic engine.
 *
 * Compiled by tools/check_cmake_package.sh against an installed prefix through
 * pkg-config and through find_package(lic) (this folder's CMakeLists.txt, once per
 * library: lic::lic and lic::lic_static), and by tests/coding/test_coder_c_abi.py against
 * lic_core.get_include() / get_library_dir(). Checks that the header and the linked
 * library are the same version and that a Gaussian table set round-trips a few
 * symbols (one escaped). Prints "OK <version>" and exits 0. */
#include <stdio.h>
#include <string.h>

#include "lic/lic.h"

int main(void) {
  const float scales[3] = {0.5f, 2.0f, 10.0f};
  const int32_t symbols[6] = {0, -1, 3, 12, -7, 100000};
  const int32_t indexes[6] = {0, 0, 1, 2, 2, 1};
  int32_t decoded[6];
  unsigned char stream[256];
  size_t size = 0;
  lic_tables* tables = NULL;

  if (lic_version() != LIC_VERSION_NUMBER || strcmp(lic_version_string(), LIC_VERSION_STRING) != 0) {
    fprintf(stderr, "header %s, library %s\n", LIC_VERSION_STRING, lic_version_string());
    return 1;
  }
  if (lic_tables_create_parametric(LIC_DIST_GAUSSIAN, LIC_METHOD_GREEDY, scales, 3, LIC_DEFAULT_TAIL_MASS,
                                   LIC_DEFAULT_PRECISION, &tables) != LIC_OK ||
      lic_encode(tables, symbols, indexes, 6, stream, sizeof(stream), &size) != LIC_OK ||
      lic_decode(tables, stream, size, indexes, 6, decoded) != LIC_OK ||
      memcmp(decoded, symbols, sizeof(symbols)) != 0) {
    fprintf(stderr, "round trip failed: %s\n", lic_last_error());
    lic_tables_free(tables);
    return 1;
  }
  lic_tables_free(tables);
  printf("OK %s\n", lic_version_string());
  return 0;
}
