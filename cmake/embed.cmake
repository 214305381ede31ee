# rs_embed(FILE OUTVAR): generate a .c file defining
#   const char embedded_<stem>[];        (the file's bytes plus a NUL)
#   const unsigned long embedded_<stem>_len;
# for data/<stem>.json, regenerated whenever the data file changes.
function(rs_embed file outvar)
    get_filename_component(stem ${file} NAME_WE)
    string(MAKE_C_IDENTIFIER ${stem} id)
    set(out ${CMAKE_BINARY_DIR}/embedded/${id}.c)
    add_custom_command(OUTPUT ${out}
        COMMAND ${CMAKE_COMMAND} -DIN=${file} -DOUT=${out} -DID=${id} -P ${CMAKE_SOURCE_DIR}/cmake/embed_file.cmake
        DEPENDS ${file} ${CMAKE_SOURCE_DIR}/cmake/embed_file.cmake VERBATIM)
    set(${outvar} ${out} PARENT_SCOPE)
endfunction()
