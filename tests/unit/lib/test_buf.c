#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "lib/buf.h"
static void t_basic(void **st) { (void)st; uint8_t b[4]={1,2,3,4}; struct rd r=rd_make(b,4); assert_int_equal(rd_u32(&r),0x04030201); rd_u8(&r); assert_false(rd_ok(&r)); }
int main(void) { const struct CMUnitTest t[] = { cmocka_unit_test(t_basic) }; return cmocka_run_group_tests(t, NULL, NULL); }
