// hiredis: the synchronous API, the async API and its libevent adapter.
// The adapter's functions are `static` in its header; Swift can call them from here.
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>
