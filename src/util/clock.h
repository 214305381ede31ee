#ifndef RS_UTIL_CLOCK_H
#define RS_UTIL_CLOCK_H

// Seconds on the monotonic clock, for timing a stretch of work (the
// difference of two readings); not a time of day.
double clock_now_s(void);

#endif
