// AUROC for the analysis: a thin wrapper over the project's one implementation of the OoD metrics
// (src/eval/metrics.ts, exact ties, checked against sklearn), so that the separability and one-class
// numbers are computed exactly like every other AUROC the toolkit reports. Convention: OoD is the
// positive class and a higher score means "more OoD"; ties count one half (Mann-Whitney U).
import { oodMetrics } from '../eval/metrics.js';

export function auroc(idScores: ArrayLike<number>, oodScores: ArrayLike<number>): number {
  return oodMetrics(idScores, oodScores).AUROC;
}
