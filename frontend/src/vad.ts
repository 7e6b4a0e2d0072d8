// Hands-free end-pointing: when does the student start and stop talking?
//
// The microphone's level (RMS, 0..1) is read about 20 times a second. A fixed threshold
// fails in a classroom: a fan or a hum above it starts a recording that never ends. So
// the room's noise floor is learnt while nobody speaks (it follows quieter sounds within
// a fraction of a second and louder ones over seconds, so speech barely moves it; for
// its first CALIBRATE_MS it only listens to the room), and speech must rise well above
// that floor. A recording ends after QUIET_MS back near the floor it had before the
// speech; one that held speech for less than MIN_SPEECH_MS (a click, a cough, a chair)
// is dropped instead of being sent.

const SPEECH_LEVEL = 0.06; // the least that counts as speech, in a silent room
const QUIET_LEVEL = 0.03; // the most that counts as quiet, in a silent room
const SPEECH_OVER_FLOOR = 3; // speech is this many times the room's noise
const QUIET_OVER_FLOOR = 1.8; // quiet is within this many times of it
const QUIET_MS = 1200;
const MIN_SPEECH_MS = 250;
const CALIBRATE_MS = 500;
const FLOOR_CALIBRATE_MS = 100; // time constant while calibrating, either way
const FLOOR_DOWN_MS = 300; // time constant when the room gets quieter
const FLOOR_UP_MS = 4000; // ... and when it gets louder

export type Decision = "start" | "end" | "drop" | null;

export class Endpointer {
  floor = QUIET_LEVEL / QUIET_OVER_FLOOR;
  private recording = false;
  private first = -1;
  private last = -1;
  private quietSince = 0;
  private speechMs = 0;

  // Where speech must rise above, and quiet fall below, with the current floor.
  get speechLevel(): number {
    return Math.max(SPEECH_LEVEL, this.floor * SPEECH_OVER_FLOOR);
  }

  get quietLevel(): number {
    return Math.max(QUIET_LEVEL, this.floor * QUIET_OVER_FLOOR);
  }

  // One level reading at `now` (ms). `listening`: hands-free is on and nothing else is
  // going on (no upload, no reply playing), so a recording may start. Returns what to do.
  update(level: number, now: number, listening: boolean): Decision {
    const dt = this.last < 0 ? 0 : Math.min(1000, Math.max(0, now - this.last));
    this.last = now;
    if (this.first < 0) this.first = now;
    const calibrating = now - this.first < CALIBRATE_MS;
    if (!this.recording) {
      if (listening && !calibrating && level > this.speechLevel) {
        this.recording = true;
        this.quietSince = now;
        this.speechMs = 0;
        return "start";
      }
      const tau = calibrating
        ? FLOOR_CALIBRATE_MS
        : level < this.floor
          ? FLOOR_DOWN_MS
          : FLOOR_UP_MS;
      this.floor += (level - this.floor) * (1 - Math.exp(-dt / tau));
      return null;
    }
    if (level > this.quietLevel) {
      this.quietSince = now;
      this.speechMs += dt;
      return null;
    }
    if (now - this.quietSince < QUIET_MS) return null;
    this.recording = false;
    return this.speechMs < MIN_SPEECH_MS ? "drop" : "end";
  }

  // The take ended from elsewhere (the button, an upload): listen for the next one.
  reset(): void {
    this.recording = false;
  }

  // A take ran to the time limit without a pause: the room got louder while it ran (a
  // machine switched on), so its floor is learnt again before the next take.
  recalibrate(): void {
    this.reset();
    this.first = -1;
  }
}
