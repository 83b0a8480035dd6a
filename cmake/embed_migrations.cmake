# Writes OUT: a C array of every migrations/NNNN_name.sql file, in order,
# so the herald binary carries the schema it was built for.
# Run as: cmake -DSRC=dir -DOUT=file -P embed_migrations.cmake

file(GLOB files RELATIVE ${SRC} ${SRC}/[0-9][0-9][0-9][0-9]_*.sql)
list(SORT files)
set(body "")
set(count 0)
foreach(f ${files})
  file(READ ${SRC}/${f} hex HEX)
  string(REGEX REPLACE "(..)" "0x\\1," hex "${hex}")
  string(REGEX MATCH "^[0-9]+" version "${f}")
  math(EXPR version "${version}")
  string(APPEND body "static const unsigned char m${count}[] = {${hex}0x00};\n")
  string(APPEND list "\t{ ${version}, \"${f}\", (const char *)m${count}, sizeof(m${count}) - 1 },\n")
  math(EXPR count "${count} + 1")
endforeach()
file(WRITE ${OUT}.tmp
"/* Generated from migrations/ by cmake/embed_migrations.cmake. */
#include \"store/migrate.h\"

${body}
const struct migration migrate_embedded[] = {
${list}};
const size_t migrate_embedded_count = ${count};
")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
