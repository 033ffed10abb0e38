// Early stopping on the validation ELBO (nats per image, higher is better).
//
// Two references, because "the best model so far" and "the model that reset the patience" differ once a minimum
// improvement is asked for (Keras's EarlyStopping min_delta, Lightning's min_delta): best.safetensors follows every
// improvement, however small, while only an improvement of more than minDelta over the value that last reset the
// count restarts the patience. Without it, a run whose validation ELBO creeps up by 0.02 nats per epoch (the
// Fashion-MNIST AE at epoch 40) never stops and spends hours buying nothing. minDelta 0 is the plain rule.

export interface EarlyStoppingState {
  bestVal: number | null;
  /** The validation ELBO that last reset the patience count; absent in run folders written before --min-delta. */
  patienceRef?: number | null;
  epochsSinceBest: number;
}

export interface EarlyStoppingStep {
  /** Better than every earlier epoch: best.safetensors is rewritten. */
  improved: boolean;
  /** Better than the patience reference by more than minDelta: the count restarts. */
  significant: boolean;
  /** Patience used up: stop. */
  stop: boolean;
}

/** Applies one epoch's validation ELBO to the state (mutated in place) and says what it meant. */
export function earlyStoppingStep(st: EarlyStoppingState, valElbo: number, patience: number | null, minDelta = 0): EarlyStoppingStep {
  if (!(minDelta >= 0)) throw new RangeError(`early stopping: minDelta must be >= 0, got ${minDelta}`);
  const improved = st.bestVal === null || valElbo > st.bestVal;
  // A run from before minDelta existed: its best value is the reference its patience count was measured against.
  const ref = st.patienceRef === undefined ? st.bestVal : st.patienceRef;
  const significant = ref === null || valElbo > ref + minDelta;
  if (improved) st.bestVal = valElbo;
  if (significant) {
    st.patienceRef = valElbo;
    st.epochsSinceBest = 0;
  } else {
    st.patienceRef = ref;
    st.epochsSinceBest += 1;
  }
  return { improved, significant, stop: patience !== null && st.epochsSinceBest >= patience };
}
