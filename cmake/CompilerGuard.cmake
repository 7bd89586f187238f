# Refuses a compiler that miscompiles known code with the flags graft builds with. Each program in
# cmake/compiler_checks/ exits 0 when it was compiled correctly and prints what it got otherwise; each is
# compiled and run with the flags of every instruction set graft compiles for, on top of the build type's
# flags (CMAKE_CXX_FLAGS_<CONFIG>) and the project's common flags. A set this machine cannot run is
# compiled but not run, and configuring says so; the test suite checks it where it runs.
#
# graft_guard_compiler(LABEL NEEDS FLAGS...): LABEL names the set in messages, NEEDS is x86_64_v3 or avx512.
# GRAFT_COMMON_FLAGS and GRAFT_LINK_FLAGS hold the options every target is built with (CMakeLists.txt).

set(GRAFT_COMPILER_CHECKS_DIR ${CMAKE_CURRENT_LIST_DIR}/compiler_checks)

# What this machine's CPU runs, found anew at every configuration (a build folder may move between machines).
try_run(host_cpu_run host_cpu_compiled ${CMAKE_BINARY_DIR}/compiler_checks/host_cpu ${CMAKE_CURRENT_LIST_DIR}/host_cpu.cpp
        RUN_OUTPUT_VARIABLE GRAFT_HOST_CPU_SETS)
if(NOT host_cpu_compiled OR NOT host_cpu_run EQUAL 0)
  message(FATAL_ERROR "graft: could not compile and run cmake/host_cpu.cpp to find this CPU's instruction sets")
endif()

function(graft_guard_compiler label needs)
  set(flags ${ARGN} ${GRAFT_COMMON_FLAGS})
  string(REPLACE ";" " " shown_flags "${flags}")
  set(CMAKE_TRY_COMPILE_CONFIGURATION ${CMAKE_BUILD_TYPE})
  string(TOUPPER "${CMAKE_BUILD_TYPE}" config)
  set(toolchain "${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION} (${CMAKE_CXX_COMPILER})")
  set(where "with the ${label} flags (${shown_flags} ${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${config}})")
  file(GLOB checks ${GRAFT_COMPILER_CHECKS_DIR}/*.cpp)
  foreach(check ${checks})
    get_filename_component(name ${check} NAME_WE)
    set(bindir ${CMAKE_BINARY_DIR}/compiler_checks/${label}/${name})
    if(needs IN_LIST GRAFT_HOST_CPU_SETS)
      try_run(run_result compiled ${bindir} ${check}
              COMPILE_DEFINITIONS ${flags} LINK_OPTIONS ${GRAFT_LINK_FLAGS}
              CXX_STANDARD 20 CXX_STANDARD_REQUIRED ON
              COMPILE_OUTPUT_VARIABLE compile_output RUN_OUTPUT_VARIABLE run_output)
    else()
      try_compile(compiled ${bindir} ${check}
                  COMPILE_DEFINITIONS ${flags} LINK_OPTIONS ${GRAFT_LINK_FLAGS}
                  CXX_STANDARD 20 CXX_STANDARD_REQUIRED ON OUTPUT_VARIABLE compile_output)
    endif()
    if(NOT compiled)
      message(FATAL_ERROR "graft: cmake/compiler_checks/${name}.cpp does not compile ${where}:\n${compile_output}")
    endif()
    if(NOT needs IN_LIST GRAFT_HOST_CPU_SETS)
      message(STATUS "graft: compiler check ${name} (${label}): compiled; not run, this CPU lacks ${needs}")
    elseif(NOT run_result EQUAL 0)
      string(STRIP "${run_output}" run_output)
      message(FATAL_ERROR
        "graft: ${toolchain} miscompiles cmake/compiler_checks/${name}.cpp ${where}: it printed "
        "\"${run_output}\". The comment at the top of that file says which flags get it right; graft's own "
        "(GRAFT_CPU=portable or native, without -m flags of your own in CMAKE_CXX_FLAGS) do.")
    else()
      message(STATUS "graft: compiler check ${name} (${label}): passed")
    endif()
  endforeach()
endfunction()
