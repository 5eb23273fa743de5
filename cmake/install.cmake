# install.cmake - `make install` and what `make deb` packages (docs/operations.md).
#
#   bin/omtpd, bin/omtp, bin/omtp-bench
#   $(sysconfdir)/omtp/omtpd.conf        the sample, data_dir = /var/lib/omtp set
#                                        (/etc/omtp when the prefix is /usr)
#   $(sysconfdir)/logrotate.d/omtpd      rotates /var/log/omtp/*.log, SIGHUP
#   lib/systemd/system/omtpd.service     User=omtp, StateDirectory=omtp, hardened
#   share/man/man8/omtpd.8, man1/omtp.1, man1/omtp-bench.1   from --help (help2man)
#   share/doc/omtp/                      README, docs/operations.md and the rest
#
# PREFIX (CMAKE_INSTALL_PREFIX, default /usr/local) and DESTDIR as usual:
#   make install PREFIX=/usr DESTDIR=/tmp/stage
include(GNUInstallDirs)

if(NOT DEFINED OMTP_VERSION)
  set(OMTP_VERSION 0.0.0)
endif()
# for scripts/deb.sh (the package's version)
file(WRITE ${CMAKE_BINARY_DIR}/packaging/version "${OMTP_VERSION}\n")

install(TARGETS omtpd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET omtp_cli)
  install(TARGETS omtp_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
if(TARGET omtp-bench)
  install(TARGETS omtp-bench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/omtpd.conf.sample
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING
        PATTERN "*.md")
# The config, logrotate snippet and systemd unit depend on the prefix given
# at install time (`cmake --install --prefix`, as `make deb` does): /etc for
# /usr, PREFIX/etc otherwise; the unit's ExecStart names PREFIX/bin/omtpd.
install(CODE "set(OMTP_SRC \"${CMAKE_SOURCE_DIR}\")")
install(SCRIPT ${CMAKE_SOURCE_DIR}/cmake/install_etc.cmake)

# man pages from each program's --help (Debian's help2man; scripts/deps.sh)
find_program(HELP2MAN help2man)
if(HELP2MAN)
  set(OMTP_MANS)
  set(OMTP_MAN_omtpd "8;omtp instant-messaging server and its admin commands")
  set(OMTP_MAN_omtp_cli "1;command-line client for omtp servers")
  set(OMTP_MAN_omtp-bench "1;load generator for omtp servers")
  foreach(tgt omtpd omtp_cli omtp-bench)
    list(GET OMTP_MAN_${tgt} 0 sec)
    list(GET OMTP_MAN_${tgt} 1 what)
    if(NOT TARGET ${tgt})
      continue()
    endif()
    set(name ${tgt})
    if(tgt STREQUAL "omtp_cli")
      set(name omtp)
    endif()
    set(out ${CMAKE_BINARY_DIR}/man/${name}.${sec})
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0 ${HELP2MAN} --no-info --no-discard-stderr --section=${sec} "--name=${what}"
              --version-string=${OMTP_VERSION} --output=${out} $<TARGET_FILE:${tgt}>
      DEPENDS ${tgt}
      COMMENT "man page ${name}.${sec} (help2man)")
    list(APPEND OMTP_MANS ${out})
    install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${sec})
  endforeach()
  add_custom_target(man ALL DEPENDS ${OMTP_MANS})
else()
  message(WARNING "help2man not found: no man pages (run scripts/deps.sh)")
endif()
