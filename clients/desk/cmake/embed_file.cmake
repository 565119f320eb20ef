# Writes INPUT's bytes as a C++ array named SYMBOL into OUTPUT, so the desk's
# CSS and script travel inside the fpx binary: nothing is read from disk by
# path or downloaded at run time.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by clients/desk/cmake/embed_file.cmake; not committed.\n"
  "#include <cstddef>\n"
  "namespace fpx::desk::embedded {\n"
  "extern const unsigned char ${SYMBOL}[] = {${bytes} 0};\n"
  "extern const std::size_t ${SYMBOL}_size = ${size};\n"
  "}\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
