// Names for the counter words of a function stats record, re-exported for readers.
export { FN_REQUESTS, FN_2XX, FN_4XX, FN_5XX, FN_BYTES_IN, FN_BYTES_OUT, FN_INFLIGHT, FN_REJECTED, FN_TIMEOUTS, FN_QUEUED, FN_COPIES, FN_COPIED_BYTES, FN_MEM_WAITS, FN_MEM_REFUSED } from './constants.js';
