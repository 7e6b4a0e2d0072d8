// The tutor chat pane beside a lesson: streams replies over /ws/tutor/lessons/<id>/.
//
// The server saves every turn before it answers and numbers them; this pane keeps the
// highest sequence number it has and asks for anything newer after every (re)connect,
// so a dropped connection loses nothing. Streamed text is shown as plain text; the final
// reply is replaced by the server's sanitised HTML and its math typeset.

import { Endpointer } from "./vad";

interface TurnFrame {
  seq: number;
  role: "student" | "tutor";
  text: string;
  html: string;
  status: string;
  mode: string;
  notice?: string;
  photo_url?: string;
}

// Photos are shrunk in the browser before upload: a phone photo (several MB) becomes a
// JPEG of at most PHOTO_MAX_SIDE pixels on its longer side, well under the server's limit,
// and loses its EXIF data (the server strips metadata again whatever it gets).
const PHOTO_MAX_SIDE = 1600;

async function shrinkPhoto(file: File): Promise<Blob> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return file; // not decodable here: let the server say what is wrong with it
  }
  const scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d")?.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return new Promise((resolve) => canvas.toBlob((blob) => resolve(blob ?? file), "image/jpeg", 0.85));
}

function csrfToken(form: HTMLFormElement): string {
  return form.querySelector<HTMLInputElement>("input[name=csrfmiddlewaretoken]")?.value ?? "";
}

type Frame =
  | { type: "turn.list"; turns: TurnFrame[] }
  | { type: "turn.saved"; turn: TurnFrame; client_id?: string }
  | { type: "reply.start"; seq: number }
  | { type: "reply.delta"; seq: number; text: string }
  | { type: "reply.reset"; seq: number }
  | { type: "reply.done"; turn: TurnFrame }
  | { type: "reply.error"; seq: number; message: string; retryable: boolean }
  | { type: "reply.audio"; seq: number; index: number; text: string; audio: string }
  | { type: "voice.status"; clip_id?: number; state: string; message?: string }
  | { type: "error"; message: string };

function wireTutor(pane: HTMLElement): void {
  const log = pane.querySelector<HTMLElement>("[data-tutor-log]") as HTMLElement;
  const form = pane.querySelector<HTMLFormElement>("form") as HTMLFormElement;
  const input = form.querySelector<HTMLTextAreaElement>("textarea") as HTMLTextAreaElement;
  const send = form.querySelector<HTMLButtonElement>("button[type=submit]") as HTMLButtonElement;
  const status = pane.querySelector<HTMLElement>("[data-tutor-status]") as HTMLElement;
  const retry = pane.querySelector<HTMLButtonElement>("[data-tutor-retry]") as HTMLButtonElement;
  const text = (key: string): string => pane.dataset[key] ?? "";
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${window.location.host}${pane.dataset.tutorSocket}`;
  let socket: WebSocket | null = null;
  let lastSeq = 0;
  let busy = false;
  let delay = 1000;

  const setStatus = (message: string, state = ""): void => {
    status.textContent = message;
    status.dataset.state = state;
  };
  const setBusy = (value: boolean): void => {
    busy = value;
    send.disabled = value;
    pane.dataset.busy = String(value);
  };
  const bubble = (seq: number, role: string): HTMLElement => {
    let item = log.querySelector<HTMLElement>(`[data-seq="${seq}"]`);
    if (!item) {
      item = document.createElement("li");
      item.dataset.seq = String(seq);
      item.className = `turn ${role}`;
      item.dataset.testid = role === "tutor" ? "tutor-turn" : "student-turn";
      const body = document.createElement("div");
      body.className = "turn-body lesson-body";
      item.append(body);
      // Keep turns in sequence order even when frames arrive out of order.
      const after = Array.from(log.children).find((el) => Number((el as HTMLElement).dataset.seq) > seq);
      log.insertBefore(item, after ?? null);
    }
    return item;
  };
  const showTurn = (turn: TurnFrame): void => {
    const item = bubble(turn.seq, turn.role);
    const body = item.querySelector<HTMLElement>(".turn-body") as HTMLElement;
    body.innerHTML = turn.html; // sanitised by the server
    body.dispatchEvent(new CustomEvent("exo:typeset", { bubbles: true }));
    item.dataset.status = turn.status;
    if (turn.status === "incomplete") {
      const note = document.createElement("p");
      note.className = "turn-note";
      note.textContent = text("cutOff");
      body.append(note);
    }
    if (turn.photo_url && !item.querySelector("img.turn-photo")) {
      const img = document.createElement("img");
      img.className = "turn-photo";
      img.src = turn.photo_url;
      img.alt = text("photoAlt");
      img.dataset.testid = "turn-photo";
      body.append(img);
    }
    if (turn.notice) {
      const note = document.createElement("p");
      note.className = "turn-note";
      note.textContent = turn.notice;
      body.append(note);
    }
    lastSeq = Math.max(lastSeq, turn.seq);
    log.scrollTop = log.scrollHeight;
  };
  const lastIsCutOff = (): boolean => {
    const items = log.querySelectorAll<HTMLElement>("li.turn");
    const last = items[items.length - 1];
    return !!last && (last.dataset.status === "incomplete" || last.classList.contains("student"));
  };

  const onFrame = (frame: Frame): void => {
    switch (frame.type) {
      case "turn.list":
        frame.turns.forEach(showTurn);
        retry.hidden = !lastIsCutOff() || busy;
        break;
      case "turn.saved":
        log.querySelector(`[data-client-id="${frame.client_id ?? ""}"]`)?.remove();
        showTurn(frame.turn);
        break;
      case "reply.start": {
        setBusy(true);
        retry.hidden = true;
        const item = bubble(frame.seq, "tutor");
        item.dataset.status = "streaming";
        lastSeq = Math.max(lastSeq, frame.seq);
        setStatus(text("thinking"), "busy");
        break;
      }
      case "reply.delta": {
        const body = bubble(frame.seq, "tutor").querySelector(".turn-body") as HTMLElement;
        body.textContent = (body.textContent ?? "") + frame.text;
        log.scrollTop = log.scrollHeight;
        break;
      }
      case "reply.reset": {
        const body = bubble(frame.seq, "tutor").querySelector(".turn-body") as HTMLElement;
        body.textContent = "";
        setStatus(text("rethinking"), "busy");
        break;
      }
      case "reply.done":
        showTurn(frame.turn);
        setBusy(false);
        setStatus("");
        break;
      case "reply.error": {
        setBusy(false);
        setStatus(frame.message, "error");
        const item = bubble(frame.seq, "tutor");
        item.dataset.status = "incomplete";
        retry.hidden = !frame.retryable;
        break;
      }
      case "reply.audio":
        voice?.play(frame.audio);
        break;
      case "voice.status":
        voice?.status(frame.state, frame.message);
        break;
      case "error":
        setStatus(frame.message, "error");
        voice?.idle();
        break;
    }
  };

  const connect = (): void => {
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      delay = 1000;
      pane.dataset.live = "true";
      setStatus("");
      socket?.send(JSON.stringify({ type: "sync.request", after: lastSeq }));
    });
    socket.addEventListener("message", (event: MessageEvent<string>) => onFrame(JSON.parse(event.data) as Frame));
    socket.addEventListener("close", (event: CloseEvent) => {
      pane.dataset.live = "false";
      setBusy(false);
      if (event.code === 4401 || event.code === 4404) return;
      setStatus(text("reconnecting"), "error");
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  };

  // Photo of work: uploaded when chosen, sent with the next message by its id.
  const photoInput = form.querySelector<HTMLInputElement>("input[type=file]");
  const photoChip = pane.querySelector<HTMLElement>("[data-tutor-photo]");
  let photoId: number | null = null;
  const clearPhoto = (): void => {
    photoId = null;
    if (photoInput) photoInput.value = "";
    if (photoChip) photoChip.hidden = true;
  };
  photoChip?.querySelector("button")?.addEventListener("click", clearPhoto);
  photoInput?.addEventListener("change", async () => {
    const file = photoInput.files?.[0];
    if (!file) return;
    setStatus(text("uploading"), "busy");
    const body = new FormData();
    body.append("photo", await shrinkPhoto(file), "photo.jpg");
    try {
      const response = await fetch(pane.dataset.tutorPhotoUrl ?? "", {
        method: "POST",
        body,
        headers: { "X-CSRFToken": csrfToken(form) },
        credentials: "same-origin",
      });
      const reply = (await response.json().catch(() => ({}))) as { id?: number; error?: string };
      if (!response.ok || reply.id === undefined) {
        clearPhoto();
        setStatus(reply.error ?? text("photoFailed"), "error");
        return;
      }
      photoId = reply.id;
      if (photoChip) photoChip.hidden = false;
      setStatus("");
    } catch {
      clearPhoto();
      setStatus(text("photoFailed"), "error");
    }
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const message = input.value.trim();
    if ((!message && photoId === null) || busy || socket?.readyState !== WebSocket.OPEN) return;
    const clientId = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const pending = document.createElement("li");
    pending.className = "turn student pending";
    pending.dataset.clientId = clientId;
    pending.textContent = message;
    log.append(pending);
    const frame: Record<string, unknown> = { type: "message.send", text: message, client_id: clientId };
    if (photoId !== null) frame.photo_id = photoId;
    socket.send(JSON.stringify(frame));
    input.value = "";
    clearPhoto();
  });
  input.addEventListener("keydown", (event: KeyboardEvent) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  retry.addEventListener("click", () => {
    retry.hidden = true;
    socket?.send(JSON.stringify({ type: "message.retry" }));
  });
  const voiceBox = pane.querySelector<HTMLElement>("[data-voice]");
  const voice = voiceBox
    ? new VoiceControls(voiceBox, (clipId) => {
        if (socket?.readyState !== WebSocket.OPEN) return false;
        const clientId = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
        socket.send(JSON.stringify({ type: "voice.send", clip_id: clipId, client_id: clientId }));
        return true;
      }, csrfToken(form), setStatus)
    : null;
  connect();
}

// --- voice -----------------------------------------------------------------------------
//
// Push-to-talk (hold the button, or Space on it) or hands-free (the microphone stays on;
// speech well above the room's noise starts a recording, 1.2 s back near it ends it, a
// click or a cough is dropped: vad.ts). A recording is uploaded, then sent
// by id over the socket; the server answers with the transcript as a normal turn and
// speaks the reply sentence by sentence (`reply.audio`), played here in order. While the
// tutor speaks, hands-free does not listen (no echo).

const MAX_RECORDING_MS = 55000;
const LEVEL_EVERY_MS = 50; // a timer, not animation frames: those stop in a hidden tab

class VoiceControls {
  private stream: MediaStream | null = null;
  private analyser: AnalyserNode | null = null;
  private recorder: MediaRecorder | null = null;
  private chunks: Blob[] = [];
  private queue: string[] = [];
  private playing: HTMLAudioElement | null = null;
  private endpointer = new Endpointer();
  private handsFreeTake = false; // the recording was started by the endpointer
  private discard = false;
  private startedAt = 0;
  private busy = false;
  private spoken = 0;
  private readonly talk: HTMLButtonElement;
  private readonly handsFree: HTMLInputElement;
  private readonly level: HTMLMeterElement;
  private readonly state: HTMLElement;

  constructor(
    private readonly box: HTMLElement,
    private readonly sendClip: (clipId: number) => boolean,
    private readonly csrf: string,
    private readonly setStatus: (message: string, state?: string) => void,
  ) {
    this.talk = box.querySelector("[data-voice-talk]") as HTMLButtonElement;
    this.handsFree = box.querySelector("[data-voice-handsfree]") as HTMLInputElement;
    this.level = box.querySelector("[data-voice-level]") as HTMLMeterElement;
    this.state = box.querySelector("[data-voice-state]") as HTMLElement;
    const start = (event: Event): void => {
      event.preventDefault();
      void this.startRecording();
    };
    const stop = (event: Event): void => {
      event.preventDefault();
      this.stopRecording();
    };
    this.talk.addEventListener("pointerdown", start);
    this.talk.addEventListener("pointerup", stop);
    this.talk.addEventListener("pointerleave", () => {
      if (!this.handsFreeTake) this.stopRecording(); // a hands-free take ends by itself
    });
    this.talk.addEventListener("keydown", (event) => {
      if (event.key === " " && !event.repeat) start(event);
    });
    this.talk.addEventListener("keyup", (event) => {
      if (event.key === " ") stop(event);
    });
    this.handsFree.addEventListener("change", () => {
      if (this.handsFree.checked) {
        this.endpointer = new Endpointer(); // learns this room afresh
        void this.open().then((ok) => ok && this.show("listening"));
      }
      else this.show("");
    });
  }

  private text(key: string): string {
    return this.box.dataset[key] ?? "";
  }

  private show(state: string): void {
    this.box.dataset.state = state;
    const key = state === "recording" && this.handsFreeTake ? "recordingHandsFree" : state;
    this.state.textContent = key ? this.text(key) : "";
    this.talk.setAttribute("aria-pressed", String(state === "recording"));
  }

  private async open(): Promise<boolean> {
    if (this.stream) return true;
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      this.setStatus(this.text("micBlocked"), "error");
      this.handsFree.checked = false;
      return false;
    }
    const context = new AudioContext();
    this.analyser = context.createAnalyser();
    this.analyser.fftSize = 1024;
    context.createMediaStreamSource(this.stream).connect(this.analyser);
    this.meter();
    return true;
  }

  private meter(): void {
    const samples = new Float32Array(this.analyser?.fftSize ?? 1024);
    window.setInterval(() => {
      if (!this.analyser) return;
      this.analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const value of samples) sum += value * value;
      const rms = Math.min(1, Math.sqrt(sum / samples.length) * 4);
      this.level.value = rms;
      this.vad(rms);
    }, LEVEL_EVERY_MS);
  }

  private vad(rms: number): void {
    const now = performance.now();
    if (this.recorder && now - this.startedAt > MAX_RECORDING_MS) {
      if (this.handsFreeTake) this.endpointer.recalibrate();
      this.stopRecording();
      return;
    }
    // Push-to-talk recordings end with the button; the room's floor waits for them.
    if (!this.handsFree.checked || (this.recorder && !this.handsFreeTake)) return;
    const listening = !this.recorder && !this.busy && !this.playing;
    const decision = this.endpointer.update(rms, now, listening);
    this.box.dataset.noiseFloor = this.endpointer.floor.toFixed(3);
    if (decision === "start") {
      this.handsFreeTake = true;
      void this.startRecording();
    } else if (decision === "end") {
      this.stopRecording();
    } else if (decision === "drop") {
      this.discard = true;
      this.stopRecording();
    }
  }

  private async startRecording(): Promise<void> {
    if (this.recorder || this.busy || !(await this.open()) || !this.stream) {
      if (!this.recorder) this.endTake();
      return;
    }
    this.stopPlayback();
    const type = MediaRecorder.isTypeSupported("audio/webm;codecs=opus") ? "audio/webm;codecs=opus" : "";
    this.recorder = new MediaRecorder(this.stream, type ? { mimeType: type } : undefined);
    this.chunks = [];
    this.discard = false;
    this.recorder.addEventListener("dataavailable", (event) => this.chunks.push(event.data));
    this.recorder.addEventListener("stop", () => {
      if (this.discard) this.dropped();
      else void this.upload();
    });
    this.startedAt = performance.now();
    this.recorder.start(250);
    this.show("recording");
  }

  private stopRecording(): void {
    if (this.recorder?.state === "recording") this.recorder.stop();
  }

  // A take is over, however it ended: the endpointer listens for the next one.
  private endTake(): void {
    this.handsFreeTake = false;
    this.endpointer.reset();
  }

  // A hands-free take too short to be speech: nothing is sent, listening goes on.
  private dropped(): void {
    this.recorder = null;
    this.endTake();
    this.discard = false;
    this.chunks = [];
    this.box.dataset.dropped = String(Number(this.box.dataset.dropped ?? "0") + 1);
    this.show(this.handsFree.checked ? "listening" : "");
  }

  private async upload(): Promise<void> {
    const recorder = this.recorder;
    this.recorder = null;
    this.endTake();
    const blob = new Blob(this.chunks, { type: recorder?.mimeType || "audio/webm" });
    this.busy = true;
    this.show("thinking");
    const body = new FormData();
    body.append("audio", blob, "question.webm");
    try {
      const response = await fetch(this.box.dataset.voiceUrl ?? "", {
        method: "POST",
        body,
        headers: { "X-CSRFToken": this.csrf },
        credentials: "same-origin",
      });
      const reply = (await response.json().catch(() => ({}))) as { id?: number; error?: string };
      if (!response.ok || reply.id === undefined || !this.sendClip(reply.id)) {
        this.setStatus(reply.error ?? this.text("failed"), "error");
        this.idle();
      }
    } catch {
      this.setStatus(this.text("failed"), "error");
      this.idle();
    }
  }

  status(state: string, message?: string): void {
    if (state === "failed" || state === "unspoken") {
      if (message) this.setStatus(message, "error");
      if (state === "failed") this.idle();
    }
  }

  idle(): void {
    this.busy = false;
    this.show(this.handsFree.checked ? "listening" : "");
  }

  play(audio: string): void {
    this.queue.push(audio);
    if (!this.playing) this.next();
  }

  private next(): void {
    const audio = this.queue.shift();
    if (audio === undefined) {
      this.playing = null;
      this.idle();
      return;
    }
    const bytes = Uint8Array.from(atob(audio), (c) => c.charCodeAt(0));
    const url = URL.createObjectURL(new Blob([bytes], { type: "audio/wav" }));
    const element = new Audio(url);
    this.playing = element;
    this.show("speaking");
    const done = (): void => {
      URL.revokeObjectURL(url);
      if (this.playing === element) this.next();
    };
    element.addEventListener("ended", () => {
      this.spoken += 1;
      this.box.dataset.spoken = String(this.spoken); // sentences played to the end
    });
    element.addEventListener("ended", done);
    element.addEventListener("error", () => {
      console.warn("tutor speech could not be played:", element.error?.message ?? "unknown error");
      done();
    });
    element.play().catch((error: unknown) => {
      console.warn("tutor speech could not be played:", error);
      done();
    });
  }

  private stopPlayback(): void {
    this.queue = [];
    if (this.playing) {
      this.playing.pause();
      this.playing = null;
    }
  }
}

document.querySelectorAll<HTMLElement>("[data-tutor-socket]").forEach(wireTutor);
