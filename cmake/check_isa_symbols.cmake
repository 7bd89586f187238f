# Fails when an object compiled for one kernel instruction set defines a weak (inline, template) symbol
# outside that set's namespace graft::kernels::<ISA>: the linker would keep one of the copies compiled for
# different instruction sets, and AVX-512 code could run on an AVX2 CPU. Called by CMakeLists.txt with
# NM, ISA, OBJECTS (paths separated by |) and STAMP.
string(REPLACE "|" ";" objects "${OBJECTS}")
set(shared "")
foreach(object ${objects})
  execute_process(COMMAND ${NM} --defined-only --demangle ${object} OUTPUT_VARIABLE symbols RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${object}")
  endif()
  string(REPLACE "\n" ";" lines "${symbols}")
  foreach(line ${lines})
    # "<address> <type> <name>": W and V are weak symbols, u unique globals (inline variables).
    if(line MATCHES "^[0-9a-f]+ [WVu] (.*)$")
      set(name "${CMAKE_MATCH_1}")
      string(FIND "${name}" "graft::kernels::${ISA}::" own)
      # DW.ref.* are the exception personality's address, and typeinfo (clang's UBSan emits it for the
      # function types it checks calls against) is data: the same in every object, no code to run.
      if(own EQUAL -1 AND NOT name MATCHES "^(DW\\.ref\\.|typeinfo for |typeinfo name for )")
        get_filename_component(file ${object} NAME)
        string(APPEND shared "\n  ${file}: ${name}")
      endif()
    endif()
  endforeach()
endforeach()
if(shared)
  message(FATAL_ERROR "The ${ISA} kernels define symbols that other code may share (use what is compiled "
                      "once instead: kernels/cpu/scratch.h, parallel_for's ChunkBody):${shared}")
endif()
file(WRITE ${STAMP} "ok\n")
