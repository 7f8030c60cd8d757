// Camera and microphone, and sound levels (the peer connection that sends them is peer.js).

const VIDEO_CONSTRAINTS = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15, max: 15 } };
const AUDIO_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

let audioContext = null;

/** The page's AudioContext (made and resumed on a tap: Safari plays sound only after one). */
export function sharedAudioContext() {
  if (!audioContext) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    audioContext = new Context();
  }
  return audioContext;
}

/** Call from a tap or key press, synchronously: lets sound play on Safari and Chrome. */
export function unlockAudio() {
  const ctx = sharedAudioContext();
  if (!ctx) return;
  if (ctx.state === 'suspended') ctx.resume().catch(() => {});
  // A silent sound started within the tap unlocks playback on older iPhones.
  const buffer = ctx.createBuffer(1, 1, 22050);
  const source = ctx.createBufferSource();
  source.buffer = buffer;
  source.connect(ctx.destination);
  source.start(0);
}

/** How loud a track is (0 … 1), read when asked. */
export class Level {
  constructor(track) {
    this.track = track;
    this.analyser = null;
    const ctx = sharedAudioContext();
    if (!ctx || !track) return;
    try {
      this.source = ctx.createMediaStreamSource(new MediaStream([track]));
      this.analyser = ctx.createAnalyser();
      this.analyser.fftSize = 2048; // about 40 ms of sound per reading
      this.analyser.smoothingTimeConstant = 0.3;
      this.source.connect(this.analyser); // not to the speakers: the <audio> element plays it
      this.samples = new Uint8Array(this.analyser.fftSize);
    } catch {
      this.analyser = null;
    }
  }

  value() {
    if (!this.analyser || !this.track.enabled || this.track.readyState !== 'live') return 0;
    this.analyser.getByteTimeDomainData(this.samples);
    let sum = 0;
    for (const s of this.samples) sum += ((s - 128) / 128) ** 2;
    return Math.min(1, Math.sqrt(sum / this.samples.length) * 4);
  }

  close() {
    try {
      this.source?.disconnect();
    } catch {
      // already gone
    }
  }
}

/** The person's own camera and microphone. */
export class LocalMedia {
  constructor(onChange) {
    this.onChange = onChange; // (kind, track) after a device switch
    this.stream = new MediaStream();
    this.audioOn = true;
    this.videoOn = true;
    this.problem = null; // 'mediaDenied' | 'mediaMissing' | 'mediaFailed' | 'mediaInsecure'
    this.started = null;
  }

  track(kind) {
    return this.stream.getTracks().find((t) => t.kind === kind) || null;
  }

  /** Start both; what cannot start is left out, and `problem` says why. Once. */
  start() {
    this.started ??= this.open();
    return this.started;
  }

  async open() {
    if (!navigator.mediaDevices?.getUserMedia) {
      this.problem = window.isSecureContext ? 'mediaFailed' : 'mediaInsecure';
      return;
    }
    const tries = [
      { audio: AUDIO_CONSTRAINTS, video: VIDEO_CONSTRAINTS },
      { audio: AUDIO_CONSTRAINTS },
      { video: VIDEO_CONSTRAINTS },
    ];
    for (const constraints of tries) {
      try {
        const stream = await navigator.mediaDevices.getUserMedia(constraints);
        for (const track of stream.getTracks()) this.stream.addTrack(track);
        this.problem = constraints.video && constraints.audio ? null : 'mediaMissing';
        this.applyEnabled();
        return;
      } catch (error) {
        if (error?.name === 'NotAllowedError' || error?.name === 'SecurityError') {
          this.problem = 'mediaDenied';
          return;
        }
        this.problem = error?.name === 'NotFoundError' ? 'mediaMissing' : 'mediaFailed';
      }
    }
  }

  async devices() {
    if (!navigator.mediaDevices?.enumerateDevices) return { audioinput: [], videoinput: [] };
    const all = await navigator.mediaDevices.enumerateDevices();
    return {
      audioinput: all.filter((d) => d.kind === 'audioinput' && d.deviceId),
      videoinput: all.filter((d) => d.kind === 'videoinput' && d.deviceId),
    };
  }

  currentDevice(kind) {
    return this.track(kind)?.getSettings?.().deviceId || '';
  }

  /** Use another camera or microphone; the connection gets the new track without renegotiating. */
  async use(kind, deviceId) {
    const base = kind === 'audio' ? AUDIO_CONSTRAINTS : VIDEO_CONSTRAINTS;
    const constraints = { [kind]: { ...base, deviceId: { exact: deviceId } } };
    const old = this.track(kind);
    old?.stop(); // some phones cannot open two cameras at once
    let fresh;
    try {
      fresh = (await navigator.mediaDevices.getUserMedia(constraints)).getTracks()[0];
    } catch (error) {
      if (old) this.stream.removeTrack(old);
      this.problem = error?.name === 'NotAllowedError' ? 'mediaDenied' : 'mediaFailed';
      this.onChange(kind, null);
      throw error;
    }
    if (old) this.stream.removeTrack(old);
    this.stream.addTrack(fresh);
    this.problem = null;
    this.applyEnabled();
    this.onChange(kind, fresh);
    return fresh;
  }

  setAudio(on) {
    this.audioOn = on;
    this.applyEnabled();
  }

  setVideo(on) {
    this.videoOn = on;
    this.applyEnabled();
  }

  applyEnabled() {
    for (const t of this.stream.getAudioTracks()) t.enabled = this.audioOn;
    for (const t of this.stream.getVideoTracks()) t.enabled = this.videoOn;
  }

  stop() {
    for (const t of this.stream.getTracks()) t.stop();
  }
}
