// Assessment helpers: which instruments to offer first, and the score request of the answers.
import type { InstrumentChoice, ScoreRequest } from '../lib/api/types';

/** Instruments of the person's programs first (in reference order), then the others. */
export function orderInstruments(all: InstrumentChoice[], programs: string[]): { choice: InstrumentChoice; own: boolean }[] {
  const own = (c: InstrumentChoice) => c.programs.some((p) => programs.includes(p));
  return [
    ...all.filter(own).map((choice) => ({ choice, own: true })),
    ...all.filter((c) => !own(c)).map((choice) => ({ choice, own: false })),
  ];
}

/** The request scoring the answers as they stand (null while unanswered). */
export function scoreRequest(instrument: string, answers: (string | null)[]): ScoreRequest {
  return { instrument, answers: [...answers] };
}
