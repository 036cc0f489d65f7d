# rpcrest: build, run and test.
#
#   make            build everything into build/
#   make run        install missing packages, build, run the supervisor on conf/rpcrest.ini
#   make test       install missing packages, build, run every test suite
#   make test SAN=1 the same with ASan+UBSan+LSan, built into build-san/
#   make memcheck   the end-to-end memcheck suite (valgrind over host and gateway)
#   make fuzz       each libFuzzer target for FUZZ_SECONDS (clang, into build-fuzz/)
#   make chaos      kill -9 the host, then the gateway, under wrk load (CHAOS_SECONDS)
#   make bench      rpcrest against the grpc-gateway peer (../shared/bench); writes docs/benchmarks.md
#   make clean
#
# Adding a service is adding a folder: services/NAME/NAME.proto plus its .c
# files become build/services/NAME.so and build/services/NAME.pb.

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:

# One build folder per kind of build, so that objects never mix: build/,
# build-san/ (SAN=1: ASan+UBSan), build-fuzz/ (FUZZ=1: clang + libFuzzer).
# B=FOLDER on the command line overrides it.
ifeq ($(FUZZ),1)
  B := build-fuzz
else ifeq ($(SAN),1)
  B := build-san
else
  B := build
endif
G   := $(B)/gen
O   := $(B)/obj
CONF ?= conf/rpcrest.ini

PROTOC   ?= protoc
PROTOC_C ?= protoc-c
PKG_CONFIG ?= pkg-config
PROTO_INCLUDE ?= /usr/include

# Quiet by default; `make V=1` prints every command.
ifeq ($(V),1)
  Q :=
  say = @:
else
  Q := @
  say = @printf '  %-8s %s\n' $(1) $(2)
endif

# Recursively expanded on purpose: pkg-config runs when a recipe needs the
# flags, after scripts/deps.sh has had its chance to install the packages.
PKGS_CFLAGS = $(shell $(PKG_CONFIG) --cflags grpc libprotobuf-c libmicrohttpd gnutls inih jansson libcrypto libnghttp2)
LIBS_COMMON = $(shell $(PKG_CONFIG) --libs inih)
# rpcrestd checks the TLS files of a new configuration (common/rp_tls.c,
# with common/rp_tls_openssl.c).
LIBS_SUP    = $(shell $(PKG_CONFIG) --libs inih libcrypto)
# grpc, not grpc_unsecure: TLS on the host's port needs gRPC's SSL
# credentials.  libcrypto (which gRPC core loads anyway) checks the host's
# PEM files at start; the host does not map GnuTLS, which only
# libmicrohttpd needs (2.4 MB less RSS).  The host inflates compressed
# requests itself with zlib (host/host_message.c), which gRPC core maps
# already, and the gateway gzips answers with it (gateway/gw_gzip.c).  The
# gateway links neither gRPC core nor OpenSSL: its HTTP/2 client is
# nghttp2, and GnuTLS, which libmicrohttpd maps anyway, does its TLS and
# checks its PEM files (gateway/gw_tls_pem.c, gateway/gw_https.c).
LIBS_HOST   = $(LIBS_GRPC_LINK) $(shell $(PKG_CONFIG) --libs libprotobuf-c inih libcrypto zlib) -ldl -lpthread
LIBS_GW     = $(shell $(PKG_CONFIG) --libs libprotobuf-c libmicrohttpd gnutls inih jansson libnghttp2 zlib) -lm -lpthread \
              -lresolv
# The test programs link the library's PEM checks (OpenSSL's), which the
# gateway replaces with its own (gateway/gw_tls_pem.c, GnuTLS).
LIBS_TEST   = $(LIBS_GW) $(shell $(PKG_CONFIG) --libs libcrypto)
LIBS_GRPC   = $(shell $(PKG_CONFIG) --libs grpc)
LIBS_GRPC_LINK = $(LIBS_GRPC)

# rpcrest-host links gRPC core statically: Debian's libgrpc.a, the archives
# that only gRPC core uses (GRPC_STATIC), absl's archives and libstdc++ (of
# which gRPC core is the only user); libssl, libcrypto, zlib and libc stay
# shared libraries, so that their security updates apply without a rebuild.
# Calls inside gRPC core then go straight to their target instead of through
# the PLT, and the loader has no 7 MB library to relocate: 8% fewer
# instructions per gRPC echo call (41.7k -> 38.2k, callgrind).  absl's 45
# libraries and libstdc++ as shared libraries held 1.4 MB of the host's
# RSS (their symbol tables, read whole by the loader, and four mappings
# each); linked in, the host is 10.6 MB idle instead of 12.0.  absl's
# deadlock detection, which rp_absl.c turns off by name, is then found in
# the program itself (host/exports.list exports it).
# The archives are prerequisites of the host, so a Debian update of gRPC,
# absl or gcc relinks it at the next make.  GRPC_LINK=shared links
# everything as shared libraries, as the test programs are.
GRPC_LINK   ?= static
GRPC_STATIC := grpc address_sorting upb gpr re2 cares
ifeq ($(GRPC_LINK),static)
  # The archives where the linker finds them (grpc.pc's libdir says /usr/lib;
  # Debian's archives are in the multiarch folder next to libgrpc.a).
  ABSL_LIBS   = $(sort $(filter -labsl_%,$(LIBS_GRPC)))
  ARCHIVE_DIR = $(dir $(shell $(CC) -print-file-name=libgrpc.a))
  GRPC_ARCHIVES = $(wildcard $(patsubst %,$(ARCHIVE_DIR)lib%.a,$(GRPC_STATIC) $(ABSL_LIBS:-l%=%)) \
                             $(shell $(CC) -print-file-name=libstdc++.a))
  LIBS_GRPC_PROG = -Wl,-Bstatic $(GRPC_STATIC:%=-l%) \
                   -Wl,--start-group $(ABSL_LIBS) -Wl,--end-group -lstdc++ -Wl,-Bdynamic \
                   $(filter-out $(GRPC_STATIC:%=-l%) -labsl_%,$(LIBS_GRPC)) -lm -static-libgcc
else
  LIBS_GRPC_PROG = $(LIBS_GRPC)
endif
LIBS_CMOCKA = $(shell $(PKG_CONFIG) --libs cmocka)

OPT ?= -O2
ifeq ($(SAN),1)
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Werror=implicit-function-declaration -Werror=int-conversion
ifeq ($(FUZZ),1)
  # Everything instrumented for libFuzzer; the fuzz targets link -fsanitize=fuzzer.
  CC := clang
  SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
  WARN := $(filter-out -Werror,$(WARN))
endif
CFLAGS ?= -g $(OPT)
# Relative relocations packed (DT_RELR; binutils >= 2.38 and glibc >= 2.36,
# as in Debian 12), when the linker takes the option without a warning: the
# loader then reads 2.5 KB instead of 265 KB of relocation records for each
# program, all of which stayed resident (the pair's RSS 0.6 MB lower, README).
RELR_LDFLAGS := $(shell printf 'int main(void){return 0;}\n' | \
                  $(CC) -Wl,-z,pack-relative-relocs -x c - -o /dev/null 2>&1 >/dev/null | \
                  grep -q . || echo -Wl,-z,pack-relative-relocs)
ALL_CFLAGS = -std=gnu11 $(CFLAGS) $(WARN) $(SANFLAGS) -fPIC -D_GNU_SOURCE \
             -Iinclude -Icommon -I$(G) $(PKGS_CFLAGS)
ALL_LDFLAGS = $(RELR_LDFLAGS) $(LDFLAGS) $(SANFLAGS)

# ---- generated code ---------------------------------------------------------
# google/api/*.proto and descriptor.proto, compiled once with protoc-c.
API_PROTOS := google/api/http.proto google/api/annotations.proto
GEN_API_C  := $(G)/google/api/http.pb-c.c $(G)/google/api/annotations.pb-c.c \
              $(G)/google/protobuf/descriptor.pb-c.c
GEN_API_H  := $(GEN_API_C:.c=.h)

$(G)/google/api/%.pb-c.c $(G)/google/api/%.pb-c.h: proto/google/api/%.proto
	@mkdir -p $(G)
	$(call say,PROTOC-C,$<)
	$(Q)$(PROTOC_C) --c_out=$(G) -Iproto -I$(PROTO_INCLUDE) $<

$(G)/google/protobuf/descriptor.pb-c.c $(G)/google/protobuf/descriptor.pb-c.h &: \
		$(PROTO_INCLUDE)/google/protobuf/descriptor.proto
	@mkdir -p $(G)
	$(call say,PROTOC-C,descriptor.proto)
	$(Q)$(PROTOC_C) --c_out=$(G) -I$(PROTO_INCLUDE) google/protobuf/descriptor.proto

# The well-known types (google/protobuf/*.proto) a service may import, and
# one archive of every generated type a service can use (these, google/api,
# descriptor.proto); each service .so links it and gets just what it uses.
WKT_PROTOS := any api duration empty field_mask source_context struct timestamp type wrappers
GEN_WKT_C := $(WKT_PROTOS:%=$(G)/google/protobuf/%.pb-c.c)
GEN_WKT_H := $(GEN_WKT_C:.c=.h)
# google.api.HttpBody, for services only (it imports any.proto, which the
# programs do not link)
GEN_HTTPBODY_C := $(G)/google/api/httpbody.pb-c.c
GEN_HTTPBODY_H := $(GEN_HTTPBODY_C:.c=.h)
SERVICE_LIB := $(B)/lib/librpcrest_types.a

$(G)/google/protobuf/%.pb-c.c $(G)/google/protobuf/%.pb-c.h: $(PROTO_INCLUDE)/google/protobuf/%.proto
	@mkdir -p $(G)
	$(call say,PROTOC-C,$*.proto)
	$(Q)$(PROTOC_C) --c_out=$(G) -I$(PROTO_INCLUDE) google/protobuf/$*.proto

$(SERVICE_LIB): $(patsubst $(G)/%.c,$(O)/gen/%.o,$(GEN_WKT_C) $(GEN_API_C) $(GEN_HTTPBODY_C))
	@mkdir -p $(dir $@)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# gRPC's own service definitions (Debian grpc-proto): reflection and health,
# served by the host.
GRPC_PROTO_DIR ?= /usr/share/grpc-proto
GRPC_PROTOS := grpc/reflection/v1/reflection.proto grpc/reflection/v1alpha/reflection.proto \
               grpc/health/v1/health.proto
GEN_GRPC_C := $(GRPC_PROTOS:%.proto=$(G)/%.pb-c.c)
GEN_GRPC_H := $(GEN_GRPC_C:.c=.h)

$(G)/grpc/%.pb-c.c $(G)/grpc/%.pb-c.h: $(GRPC_PROTO_DIR)/grpc/%.proto
	@mkdir -p $(G)
	$(call say,PROTOC-C,$<)
	$(Q)$(PROTOC_C) --c_out=$(G) -I$(GRPC_PROTO_DIR) -I$(PROTO_INCLUDE) $<

# Their descriptor set, embedded by host/host_protos.c (.incbin) so that the
# host's reflection service also describes reflection and health.
$(G)/grpc/builtin.pb: $(GRPC_PROTOS:%=$(GRPC_PROTO_DIR)/%)
	@mkdir -p $(dir $@)
	$(call say,PROTOC,$@)
	$(Q)$(PROTOC) --include_source_info --descriptor_set_out=$@ -I$(GRPC_PROTO_DIR) \
	    -I$(PROTO_INCLUDE) $(GRPC_PROTOS)
$(O)/host/host_protos.o: $(G)/grpc/builtin.pb
$(O)/host/host_protos.o: private ALL_CFLAGS += -DHOST_PROTOS_PB='"$(abspath $(G)/grpc/builtin.pb)"'

# ---- objects ----------------------------------------------------------------
COMMON_SRC := $(wildcard common/*.c)
SUP_SRC    := $(wildcard supervisor/*.c)
HOST_SRC   := $(wildcard host/*.c)
GW_SRC     := $(wildcard gateway/*.c)

obj = $(patsubst %.c,$(O)/%.o,$(1))
COMMON_OBJ := $(call obj,$(COMMON_SRC))
# An archive, so each program links only the common modules it uses.
COMMON_LIB := $(B)/lib/librpcrest_common.a
SUP_OBJ    := $(call obj,$(SUP_SRC))
HOST_OBJ   := $(call obj,$(HOST_SRC))
GW_OBJ     := $(call obj,$(GW_SRC))
GEN_API_OBJ := $(patsubst $(G)/%.c,$(O)/gen/%.o,$(GEN_API_C))
GEN_GRPC_OBJ := $(patsubst $(G)/%.c,$(O)/gen/%.o,$(GEN_GRPC_C))

$(O)/%.o: %.c | $(GEN_API_H) $(GEN_GRPC_H)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(O)/gen/%.o: $(G)/%.c $(GEN_API_H) $(GEN_GRPC_H) $(GEN_WKT_H)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-unused-parameter -Wno-missing-prototypes -c $< -o $@

# ---- programs ---------------------------------------------------------------
# The host exports the rpcrest_call_* functions that plugins call.
$(COMMON_LIB): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(B)/rpcrestd: $(SUP_OBJ) $(COMMON_LIB)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LIBS_SUP) -o $@

HOST_LINK := $(HOST_OBJ) $(GEN_API_OBJ) $(GEN_GRPC_OBJ) $(COMMON_LIB)
GW_LINK   := $(GW_OBJ) $(GEN_API_OBJ) $(GEN_GRPC_OBJ) $(COMMON_LIB)

# The test programs' copy of the host (below) links gRPC core shared.  The
# gateway does not link gRPC core at all (its HTTP/2 client is nghttp2's).
$(B)/rpcrest-host: LIBS_GRPC_LINK = $(LIBS_GRPC_PROG)
$(B)/rpcrest-host: $(GRPC_ARCHIVES)
$(B)/rpcrest-host $(B)/rpcrest-gateway: $(B)/link-settings

# Which GRPC_LINK and linker flags the programs were linked with; rewritten
# (so newer than them) only when they change.  Every target is .SECONDARY
# below, so a missing stamp would not be made: this one is checked each time.
LINK_SETTINGS = $(GRPC_LINK) $(ALL_LDFLAGS)
$(B)/link-settings: FORCE
	@mkdir -p $(B) && echo '$(LINK_SETTINGS)' | cmp -s - $@ || echo '$(LINK_SETTINGS)' > $@

$(B)/rpcrest-host $(B)/tests/oom/rpcrest-host: $(HOST_LINK) host/exports.list
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -Wl,--dynamic-list=host/exports.list -Wl,--wrap=accept4 \
	    $(HOST_LINK) $(LIBS_HOST) -o $@

$(B)/rpcrest-gateway $(B)/tests/oom/rpcrest-gateway: $(GW_LINK)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $(GW_LINK) $(LIBS_GW) -o $@

# rpcrestctl: rpcrestd's control client (supervisor/ctl/).
CTL_OBJ := $(call obj,$(wildcard supervisor/ctl/*.c))
$(B)/rpcrestctl: $(CTL_OBJ) $(COMMON_LIB)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LIBS_COMMON) -o $@

PROGRAMS := $(B)/rpcrestd $(B)/rpcrest-host $(B)/rpcrest-gateway $(B)/rpcrestctl

# ---- services: one folder each ------------------------------------------------
SERVICES := $(notdir $(patsubst %/,%,$(dir $(wildcard services/*/*.proto))))
SERVICE_SO := $(SERVICES:%=$(B)/services/%.so)
SERVICE_PB := $(SERVICES:%=$(B)/services/%.pb)
# A plugin exports its entry symbol only (RPCREST_PLUGIN marks it; and
# --exclude-libs for the google/api and well-known types' code it links):
# the generated code's names stay its own, and the loader resolves fewer.
PLUGIN_CFLAGS := -fvisibility=hidden

define service_rules
$(G)/services/$(1)/$(1).pb-c.c $(G)/services/$(1)/$(1).pb-c.h &: services/$(1)/$(1).proto $(GEN_API_H) $(GEN_WKT_H) $(GEN_HTTPBODY_H)
	@mkdir -p $(G)/services/$(1)
	$$(call say,PROTOC-C,$$<)
	$(Q)$$(PROTOC_C) --c_out=$(G)/services/$(1) -Iservices/$(1) -Iproto -I$$(PROTO_INCLUDE) $(1).proto

$(B)/services/$(1).pb: services/$(1)/$(1).proto $(wildcard proto/google/api/*.proto)
	@mkdir -p $(B)/services
	$$(call say,PROTOC,$$@)
	$(Q)$$(PROTOC) --include_imports --include_source_info --descriptor_set_out=$$@ \
	    -Iservices/$(1) -Iproto -I$$(PROTO_INCLUDE) $(1).proto

$(O)/services/$(1)/%.o: services/$(1)/%.c $(G)/services/$(1)/$(1).pb-c.h
	@mkdir -p $$(dir $$@)
	$$(call say,CC,$$<)
	$(Q)$$(CC) $$(ALL_CFLAGS) $$(PLUGIN_CFLAGS) -I$(G)/services/$(1) -MMD -MP -c $$< -o $$@

$(O)/services/$(1)/$(1).pb-c.o: $(G)/services/$(1)/$(1).pb-c.c
	@mkdir -p $$(dir $$@)
	$$(call say,CC,$$<)
	$(Q)$$(CC) $$(ALL_CFLAGS) $$(PLUGIN_CFLAGS) -I$(G)/services/$(1) -Wno-unused-parameter \
	    -Wno-missing-prototypes \
	    -c $$< -o $$@

# The descriptor set is embedded in the .so (rpcrest_descriptor_set_start/_end).
$(G)/services/$(1)/$(1).desc.S: | $(B)/services/$(1).pb
	@mkdir -p $$(dir $$@)
	@printf '%s\n' '.section .rodata' '.balign 8' \
	    '.global rpcrest_descriptor_set_start' '.hidden rpcrest_descriptor_set_start' \
	    'rpcrest_descriptor_set_start:' '.incbin "$(CURDIR)/$(B)/services/$(1).pb"' \
	    '.global rpcrest_descriptor_set_end' '.hidden rpcrest_descriptor_set_end' \
	    'rpcrest_descriptor_set_end:' '.section .note.GNU-stack,"",@progbits' > $$@

$(O)/services/$(1)/$(1).desc.o: $(G)/services/$(1)/$(1).desc.S $(B)/services/$(1).pb
	@mkdir -p $$(dir $$@)
	$$(call say,AS,$$<)
	$(Q)$$(CC) -c $$< -o $$@

$(B)/services/$(1).so: $(patsubst services/$(1)/%.c,$(O)/services/$(1)/%.o,$(wildcard services/$(1)/*.c)) \
		$(O)/services/$(1)/$(1).pb-c.o $(O)/services/$(1)/$(1).desc.o $(SERVICE_LIB)
	@mkdir -p $(B)/services
	$$(call say,LINK,$$@)
	$(Q)$$(CC) $$(ALL_LDFLAGS) -shared -Wl,--exclude-libs,ALL $$^ \
	    $$(shell $$(PKG_CONFIG) --libs libprotobuf-c) -o $$@
endef
$(foreach s,$(SERVICES),$(eval $(call service_rules,$(s))))

# ---- the API console ([gateway] docs) ------------------------------------------
# Swagger UI from npm (gateway/console/package-lock.json pins it), installed
# at build time into $(B)/npm/console; its files and rpcrest's own index page
# are copied to $(B)/console, the folder the gateway serves /docs from (its
# path is compiled in: `make CONSOLE_DIR=/usr/share/rpcrest/console` for an
# install that copies the folder there).
CONSOLE_DIR ?= $(CURDIR)/$(B)/console
CONSOLE_NPM := $(B)/npm/console
CONSOLE_FILES := index.html swagger-ui.css swagger-ui-bundle.js favicon-16x16.png favicon-32x32.png
CONSOLE := $(CONSOLE_FILES:%=$(B)/console/%)

$(CONSOLE_NPM)/.installed: gateway/console/package.json gateway/console/package-lock.json \
		scripts/npm-ci.sh
	$(call say,NPM,$(CONSOLE_NPM))
	$(Q)scripts/npm-ci.sh gateway/console $(CONSOLE_NPM)

$(B)/console/index.html: gateway/console/index.html
	@mkdir -p $(dir $@)
	$(Q)cp $< $@

$(B)/console/%: $(CONSOLE_NPM)/.installed
	@mkdir -p $(dir $@)
	$(Q)cp $(CONSOLE_NPM)/node_modules/swagger-ui-dist/$* $@

$(O)/gateway/gw_main.o: private ALL_CFLAGS += -DRPCREST_CONSOLE_DIR='"$(CONSOLE_DIR)"'

all: $(PROGRAMS) $(SERVICE_SO) $(SERVICE_PB) $(CONSOLE)

# ---- tests ------------------------------------------------------------------
# tests/unit/test_X.c links against the objects of the modules it tests.
TEST_SRC  := $(wildcard tests/unit/test_*.c)
TEST_BIN  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(TEST_SRC))
LIB_OBJ   := $(filter-out $(O)/gateway/gw_main.o $(O)/gateway/gw_tls_pem.o,$(GW_OBJ)) $(GEN_API_OBJ) \
             $(GEN_GRPC_OBJ) $(COMMON_LIB)

$(B)/tests/%: $(O)/tests/unit/%.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LIBS_TEST) $(LIBS_GRPC) $(LIBS_CMOCKA) -o $@

# The PEM checks are OpenSSL's (common/rp_tls_openssl.c, from the library) in the
# tests, as in rpcrestd and the host; test_rp_security runs once more with the
# gateway's (gateway/gw_tls_pem.c, GnuTLS), linked ahead of the library.
TEST_BIN += $(B)/tests/test_rp_security_gnutls
$(B)/tests/test_rp_security_gnutls: $(O)/tests/unit/test_rp_security.o \
                                    $(O)/gateway/gw_tls_pem.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LIBS_TEST) $(LIBS_GRPC) $(LIBS_CMOCKA) -o $@

# test_sup_backoff tests a module of rpcrestd's, which LIB_OBJ leaves out.
$(B)/tests/test_sup_backoff: $(O)/supervisor/sup_backoff.o
# The host's modules that unit tests cover (the host is no library).
$(B)/tests/test_host_status: $(O)/host/host_status.o
$(B)/tests/test_host_message: $(O)/host/host_message.o
$(B)/tests/test_host_message: LIBS_GW += $(shell $(PKG_CONFIG) --libs zlib)

# test_gw_accept plays libmicrohttpd's answers to a new connection.
$(B)/tests/test_gw_accept: ALL_LDFLAGS += -Wl,--wrap=MHD_add_connection \
	-Wl,--wrap=gw_loop_update -Wl,--wrap=gw_loop_wake

# test_gw_conns makes gw_conns_new's calloc and pthread calls fail on cue.
$(B)/tests/test_gw_conns: ALL_LDFLAGS += -Wl,--wrap=calloc -Wl,--wrap=pthread_cond_init \
	-Wl,--wrap=pthread_create

# test_gw_h2 makes the gateway's reallocs (and a calloc) fail on cue, starts stream ids
# near their end, shortens TCP_USER_TIMEOUT and answers for a name.
$(B)/tests/test_gw_h2: ALL_LDFLAGS += -Wl,--wrap=realloc -Wl,--wrap=calloc \
	-Wl,--wrap=nghttp2_session_client_new2 -Wl,--wrap=setsockopt \
	-Wl,--wrap=getaddrinfo -Wl,--wrap=freeaddrinfo

# Special-purpose plugins for the host's tests (broken on purpose, or slow).
# bad_descriptor.c is built once per case it lists, as bad_descriptor_CASE.so.
BAD_DESCRIPTOR_CASES := no_name no_methods no_index unsorted_index no_method_name no_input \
                        output_not_a_message other_input extra_method
TEST_PLUGIN_SRC := $(filter-out tests/plugins/bad_descriptor.c,$(wildcard tests/plugins/*.c))
TEST_PLUGINS := $(patsubst tests/plugins/%.c,$(B)/tests/plugins/%.so,$(TEST_PLUGIN_SRC)) \
                $(BAD_DESCRIPTOR_CASES:%=$(B)/tests/plugins/bad_descriptor_%.so)

$(B)/tests/plugins/%.so: tests/plugins/%.c $(O)/services/echo/echo.pb-c.o
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -I$(G)/services/echo -shared $^ \
	    $(shell $(PKG_CONFIG) --libs libprotobuf-c) -o $@

# This one embeds echo.proto's descriptor set, which contradicts it.
$(B)/tests/plugins/kind_mismatch.so: $(O)/services/echo/echo.desc.o

$(B)/tests/plugins/bad_descriptor_%.so: tests/plugins/bad_descriptor.c \
		$(O)/services/echo/echo.pb-c.o $(O)/services/echo/echo.desc.o $(SERVICE_LIB)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -DCASE_$* -I$(G)/services/echo -shared $^ \
	    $(shell $(PKG_CONFIG) --libs libprotobuf-c) -o $@

# The out-of-memory tests' LD_PRELOAD library (tests/faults/failmalloc.c).
# Never sanitized: it replaces malloc, which a sanitizer runtime must own;
# the tests that use it skip themselves under SAN=1 and memcheck.
$(B)/tests/failmalloc.so: tests/faults/failmalloc.c
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) -std=gnu11 $(CFLAGS) $(WARN) -fPIC -D_GNU_SOURCE -shared $< -o $@

# It fails only the program's own allocations, which it tells by the
# caller's address, so those tests run copies of the programs with gRPC core
# in a shared library (rpcrestd runs the children next to itself).
OOM_PROGRAMS := $(B)/tests/oom/rpcrestd $(B)/tests/oom/rpcrest-host $(B)/tests/oom/rpcrest-gateway
$(B)/tests/oom/rpcrestd: $(B)/rpcrestd
	@mkdir -p $(dir $@)
	$(Q)cp $< $@

# Descriptor sets for unit tests: tests/unit/NAME.proto -> build/tests/NAME.pb
TEST_PROTO := $(wildcard tests/unit/*.proto)
TEST_PB := $(patsubst tests/unit/%.proto,$(B)/tests/%.pb,$(TEST_PROTO))

$(B)/tests/%.pb: tests/unit/%.proto
	@mkdir -p $(dir $@)
	$(call say,PROTOC,$@)
	$(Q)$(PROTOC) --include_imports --include_source_info --descriptor_set_out=$@ -Itests/unit -Iproto \
	    -I$(PROTO_INCLUDE) $*.proto

# A command-line driver of gateway/gw_discovery.c for the end-to-end tests
# (not a cmocka suite, so not in TEST_BIN).
$(B)/tests/discovery_tool: $(O)/tests/unit/discovery_tool.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LIBS_TEST) -o $@

# Tests find the build folder's files (descriptor sets…) under BUILD_DIR.
$(O)/tests/%.o: private ALL_CFLAGS += -DBUILD_DIR='"$(B)"'

# ---- fuzzing ------------------------------------------------------------------
# tests/fuzz/fuzz_NAME.c is one libFuzzer target (LLVMFuzzerTestOneInput).
# In every build $(B)/tests/fuzz/NAME replays tests/fuzz/corpus/NAME/ and
# tests/fuzz/regress/NAME/ once (a suite of make test); with FUZZ=1,
# $(B)/fuzz/NAME is the fuzzer itself (make fuzz).
FUZZ_NAMES  := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY := $(FUZZ_NAMES:%=$(B)/tests/fuzz/%)
FUZZERS     := $(FUZZ_NAMES:%=$(B)/fuzz/%)
FUZZ_SECONDS ?= 60

$(B)/tests/fuzz/%: $(O)/tests/fuzz/fuzz_%.o $(O)/tests/fuzz/replay.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LIBS_TEST) -o $@

$(B)/fuzz/%: $(O)/tests/fuzz/fuzz_%.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer $^ $(LIBS_TEST) -o $@

fuzzers: $(FUZZERS) $(TEST_PB) $(SERVICE_PB)

# The browser tests' tools from npm (tests/browser/package-lock.json): an
# OpenAPI validator and playwright-core, which drives Debian's chromium.
BROWSER_NPM := $(B)/npm/browser
$(BROWSER_NPM)/.installed: tests/browser/package.json tests/browser/package-lock.json \
		scripts/npm-ci.sh
	$(call say,NPM,$(BROWSER_NPM))
	$(Q)scripts/npm-ci.sh tests/browser $(BROWSER_NPM)

tests: all $(BROWSER_NPM)/.installed $(TEST_BIN) $(TEST_PLUGINS) $(TEST_PB) $(B)/tests/discovery_tool $(B)/tests/json_tool \
       $(B)/tests/failmalloc.so $(OOM_PROGRAMS) $(FUZZ_REPLAY)

deps:
	@scripts/deps.sh

run:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all
	exec $(B)/rpcrestd -c $(CONF)

# RPCREST_BUILD tells the test runner and harness which build folder to
# run; RPCREST_SAN=1 makes them run it with sanitizer options and fail a
# suite on any sanitizer report (tests/run.py).
test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory tests
	@RPCREST_BUILD=$(B) RPCREST_SAN=$(SAN) /usr/bin/python3 tests/run.py $(TEST_BIN) $(FUZZ_REPLAY)

# The gateway and the host under valgrind memcheck through a representative
# workload (tests/e2e/test_memcheck.py, skipped by make test).  Slow.
memcheck:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory tests
	@RPCREST_BUILD=$(B) RPCREST_SAN=$(SAN) RPCREST_MEMCHECK=1 TESTS=test_memcheck \
	    /usr/bin/python3 tests/run.py

# Each fuzz target for FUZZ_SECONDS seconds (tests/fuzz/run.sh).
fuzz:
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory FUZZ=1 fuzzers
	@tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_NAMES)

# Under wrk load, kill -9 the host every few seconds, then the gateway
# (tests/chaos/chaos.py); make test runs a short version (test_chaos.py).
CHAOS_SECONDS ?= 60
chaos:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory all
	@RPCREST_BUILD=$(B) RPCREST_SAN=$(SAN) /usr/bin/python3 tests/chaos/chaos.py \
	    --seconds $(CHAOS_SECONDS)

# rpcrest against the grpc-gateway peer and a bare libmicrohttpd ceiling
# (bench/run.sh, the scripts in $(BENCH_DIR)): an -O2 build into
# build/bench, about 8-10 minutes, writes docs/benchmarks.md.  Not part of
# make test.  ROUNDS=, DUR= or QUICK=1 change its length.
BENCH_DIR ?= $(CURDIR)/../shared/bench
bench:
	@BENCH_DIR="$(BENCH_DIR)" bench/run.sh

clean:
	rm -rf $(B)

FORCE:

.PHONY: all tests deps run test clean memcheck fuzz fuzzers chaos bench FORCE
.SECONDARY:

-include $(shell find $(O) -name '*.d' 2>/dev/null)
