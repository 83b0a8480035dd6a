# Every dependency comes from Debian's packages through pkg-config.

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(LIBEVENT REQUIRED IMPORTED_TARGET
  libevent_core>=2.1 libevent_extra>=2.1 libevent_openssl>=2.1
  libevent_pthreads>=2.1)
pkg_check_modules(OPENSSL REQUIRED IMPORTED_TARGET openssl>=3.0)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq>=15)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson>=2.13)
pkg_check_modules(LIBCURL REQUIRED IMPORTED_TARGET libcurl>=7.88)
if(HERALD_TESTS)
  pkg_check_modules(CRITERION REQUIRED IMPORTED_TARGET criterion>=2.4)
endif()
