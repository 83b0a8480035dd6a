# Compiler warnings, hardening and sanitizer flags shared by every target.

set(HERALD_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wmissing-prototypes
  -Wstrict-prototypes -Wold-style-definition -Wimplicit-fallthrough
  -Wundef -Wvla -Wcast-qual -Wwrite-strings -Wpointer-arith
  -Wnull-dereference -Wmissing-declarations)
if(HERALD_WERROR)
  list(APPEND HERALD_WARNINGS -Werror)
endif()

set(HERALD_HARDENING -fstack-protector-strong -fstack-clash-protection
  -fPIE)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  list(APPEND HERALD_HARDENING -fcf-protection)
endif()
set(HERALD_LINK_HARDENING -pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)

if(HERALD_FUZZ)
  # Instrument everything for libFuzzer; the targets link the driver.
  set(HERALD_SAN_FLAGS -fsanitize=fuzzer-no-link,address,undefined
    -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options(${HERALD_SAN_FLAGS})
  add_link_options(-fsanitize=address,undefined)
elseif(HERALD_SANITIZE)
  set(HERALD_SAN_FLAGS -fsanitize=address,undefined
    -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options(${HERALD_SAN_FLAGS})
  add_link_options(${HERALD_SAN_FLAGS})
else()
  # _FORTIFY_SOURCE needs optimisation and does not mix with ASan.
  list(APPEND HERALD_HARDENING -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3)
endif()

add_compile_definitions(_GNU_SOURCE)
add_compile_options(${HERALD_WARNINGS} ${HERALD_HARDENING})
add_link_options(${HERALD_LINK_HARDENING})
