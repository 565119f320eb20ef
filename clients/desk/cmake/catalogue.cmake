# Turns the NeXTstep string table that GNU gettext's msgcat writes from a .po
# catalogue ("msgid" = "msgstr"; with C escapes) into C++ initialisers
# {"msgid", "msgstr"}, so the catalogue is compiled into the binary and works
# on a machine with no locales generated (glibc's gettext would need one).
file(READ "${INPUT}" table)
# Start at the header entry ("" = "Project-Id-Version ..."): drops the
# byte-order mark and the catalogue's leading comments msgcat writes first.
string(FIND "${table}" "\"\" = \"" header_entry)
if(header_entry LESS 0)
  message(FATAL_ERROR "${INPUT}: no header entry; is it a msgcat --stringtable-output file?")
endif()
string(SUBSTRING "${table}" ${header_entry} -1 table)
string(REGEX REPLACE "/\\*[^\n]*\\*/\n" "" table "${table}")
# The header entry ("" = "Content-Type ...") is metadata, not a text.
string(REGEX REPLACE "\"\" = \"[^\n]*\";\n" "" table "${table}")
string(REGEX REPLACE "(\"[^\n]*\") = (\"[^\n]*\");" "{\\1, \\2}," entries "${table}")
file(WRITE "${OUTPUT}.tmp" "// Generated from ${INPUT} by clients/desk/cmake/catalogue.cmake; not committed.\n${entries}\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
