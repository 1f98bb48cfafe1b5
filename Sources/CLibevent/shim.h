// libevent 2.1: event loops, timers, evhttp and listeners.
// Function-like macros (evtimer_new, evsignal_new) are not imported by Swift;
// the bridge calls event_new() with the flags those macros expand to.
// System headers first: event2/event-config.h defines _GNU_SOURCE, which would
// give fd_set a different shape here than in Glibc/Dispatch (a module clash).
#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
