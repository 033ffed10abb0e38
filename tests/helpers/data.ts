// Skip reasons for tests that read real datasets (Debian's Fashion-MNIST, ../shared/data): a clone without them skips
// those tests and names the missing set, instead of failing.
import { dataIdentity } from '../../src/benchmark/pairs.js';

/** The skip reason for the first of `specs` this machine lacks, or false when all are present. */
export function lackingData(...specs: string[]): string | false {
  const absent = specs.find((s) => !dataIdentity(s).ok);
  return absent ? `${absent} is not on this machine` : false;
}
