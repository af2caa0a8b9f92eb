import type { BucketWindow } from '../cache/buckets.js';
import type { DataScope } from '../source/types.js';

/**
 * What a `Dashboard` object is to its field resolvers: whose data, and which
 * buckets. Built once by `Query.dashboard` from the verified token and the
 * validated range.
 */
export interface DashboardWindow {
  readonly scope: DataScope;
  readonly window: BucketWindow;
}
