/**
 * The fixed engine's layer-0 input format (docs/fixed-point.md): x, as the f32 the engine reads, is held as
 * round(x 2^inputFrac) (half up) in i16, saturated to +-32767. The quantizer sets inputFrac from the largest
 * calibration |x|; a stream's stats count the inputs beyond it (inputsSaturated). These say the same of one value
 * on the host, for messages that name where a saturated input came from.
 */

/** The largest |x| the format holds: 32767 / 2^inputFrac. */
export function inputLimit(inputFrac: number): number {
  return 32767 / 2 ** inputFrac;
}

/** Whether the fixed engine saturates the input x, as assembly/fixed/engine.ts (fixedEvent) decides it. */
export function saturatesInput(x: number, inputFrac: number): boolean {
  const q = Math.floor(Math.fround(x) * 2 ** inputFrac + 0.5);
  return q > 32767 || q < -32767;
}

/** The index of the first event of a batch (x event-major, `inputSize` values an event) with an input the fixed engine
 * saturates, or -1: for messages that name its line. */
export function firstSaturatedEvent(x: ArrayLike<number>, inputFrac: number, inputSize: number): number {
  for (let i = 0; i < x.length; i++) if (saturatesInput(x[i], inputFrac)) return Math.floor(i / inputSize);
  return -1;
}

/**
 * What a command says of the inputs a run saturated: how many, the bound, where the first one was (a `file:line`,
 * when known), and what to do about it.
 */
export function saturationWarning(count: number, inputFrac: number, first: string | undefined): string {
  const values = count === 1 ? "input value was" : "input values were";
  return (
    `${count} ${values} beyond what the model's fixed-point input holds (|x| at most 32767 / 2^${inputFrac} = ${inputLimit(inputFrac)}, ` +
    `set from its calibration events) and saturated to it${first === undefined ? "" : `, the first at ${first}`}: ` +
    "quantize the model again on calibration events that span the inputs' range, or run the float model"
  );
}
