// The RTCPeerConnection to the meeting's media server: it only answers the server's offers. With Janus
// (ConnectMedia's publishSeparately) it only receives, and a second one, which we offer, publishes ours.

const GATHERING_CAP_MS = 2000;
const DISCONNECTED_GRACE_MS = 3000;
const OFFER_WAIT_MS = 15_000;

/** Which m-line directions the offer has, by mid: a=sendrecv|sendonly|recvonly|inactive. */
export function offeredDirections(sdp) {
  const out = new Map();
  const sections = sdp.split(/\r?\nm=/).slice(1);
  for (const section of sections) {
    const mid = /\r?\na=mid:(\S+)/.exec(section)?.[1];
    if (mid === undefined) continue;
    const direction = /\r?\na=(sendrecv|sendonly|recvonly|inactive)/.exec(section)?.[1] || 'sendrecv';
    const port = /^\S+ (\d+)/.exec(section)?.[1];
    out.set(mid, port === '0' ? 'inactive' : direction);
  }
  return out;
}

/** The o= line's session id and version: which server-side connection made an offer, and which offer. */
export function sdpOrigin(sdp) {
  const match = /^o=\S+ (\d+) (\d+) /m.exec(sdp);
  return match ? { id: match[1], version: Number(match[2]) } : null;
}

function gatheringComplete(pc, capMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, capMs);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === 'complete') done();
    }
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/**
 * The connection to the media server. The browser is the polite peer: it only answers offers.
 * `api`: connectMedia() → {mediaServerId, iceServers}; sendSignal(to, kind, payload).
 * `events`: onState('connecting'|'connected'|'reconnecting'), onRemote(Map participantId → {audio, video}).
 */
export class MediaSession {
  constructor(local, api, events) {
    this.local = local;
    this.api = api;
    this.events = events;
    this.pc = null;
    this.ready = null;
    this.mediaServerId = null;
    this.tracks = []; // the latest MEDIA_TRACKS
    this.queue = Promise.resolve();
    this.closed = false;
    this.state = 'idle';
    this.attempt = 0;
    this.everConnected = false;
    this.graceTimer = null;
    this.offerTimer = null;
    this.retryTimer = null;
    this.iceServers = [];
    this.relayOnly = false;
    this.separate = false; // publishSeparately: ours go on this.publisher
    this.publisher = null;
    this.offerOrigin = { id: null, version: -1 }; // the o= line of the offers the connection took
    this.deadOrigins = new Set();
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.events.onState(state);
  }

  start() {
    this.closed = false;
    this.ready = this.open();
    this.ready.catch(() => this.scheduleRestart());
  }

  async open() {
    this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    const connection = await this.api.connectMedia();
    if (this.closed) throw new Error('closed');
    this.mediaServerId = connection.mediaServerId;
    this.iceServers = (connection.iceServers || []).map((s) => ({
      urls: s.urls,
      ...(s.username ? { username: s.username, credential: s.credential } : {}),
    }));
    this.relayOnly = Boolean(connection.relayOnly);
    this.separate = Boolean(connection.publishSeparately);
    const pc = this.newPeerConnection();
    clearTimeout(this.offerTimer);
    // The media server offers soon after ConnectMedia (with Janus: answers our offer); if nothing comes, ask again.
    this.offerTimer = setTimeout(() => {
      const waiting = this.separate ? this.publisher : pc;
      if (this.pc === pc && waiting && !waiting.remoteDescription) this.restart();
    }, OFFER_WAIT_MS);
    if (this.separate) await this.publish(pc);
    return pc;
  }

  configuration() {
    return {
      iceServers: this.iceServers,
      iceTransportPolicy: this.relayOnly ? 'relay' : 'all',
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
    };
  }

  /** Janus: our camera and microphone on a connection of their own, offered to the media server. */
  async publish(receiving) {
    const pc = new RTCPeerConnection(this.configuration());
    this.publisher = pc;
    pc.addEventListener('connectionstatechange', () => this.onConnectionState(pc));
    for (const kind of ['audio', 'video']) {
      const track = this.local.track(kind);
      if (track) pc.addTransceiver(track, { direction: 'sendonly', streams: [this.local.stream] });
      else pc.addTransceiver(kind, { direction: 'sendonly' }); // a device may come later (replaceLocal)
    }
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc, GATHERING_CAP_MS);
    if (pc !== this.publisher || receiving !== this.pc) return;
    await this.api.sendSignal(this.mediaServerId, 'OFFER', pc.localDescription.sdp);
  }

  /** The media server's answer to what we publish. */
  handleAnswer(sdp) {
    const pc = this.publisher;
    if (!pc || pc.signalingState !== 'have-local-offer') return;
    pc.setRemoteDescription({ type: 'answer', sdp })
      .then(() => this.events.onAnswered?.())
      .catch((error) => {
        console.warn('the answer to what we publish was refused', error);
        this.restart();
      });
  }

  newPeerConnection() {
    const pc = new RTCPeerConnection(this.configuration());
    this.pc = pc;
    this.offerOrigin = { id: null, version: -1 };
    pc.addEventListener('connectionstatechange', () => this.onConnectionState(pc));
    pc.addEventListener('track', () => this.publishRemote());
    return pc;
  }

  onConnectionState(pc) {
    if (pc !== this.pc && pc !== this.publisher) return;
    const state = pc.connectionState;
    // With Janus, what we publish says whether we are connected: alone in the room, nothing comes in.
    if (state === 'connected' && (!this.separate || pc === this.publisher)) {
      clearTimeout(this.graceTimer);
      this.graceTimer = null;
      this.attempt = 0;
      this.everConnected = true;
      this.setState('connected');
    } else if (state === 'failed') {
      this.restart();
    } else if (state === 'disconnected') {
      clearTimeout(this.graceTimer);
      this.graceTimer = setTimeout(() => {
        if ((pc === this.pc || pc === this.publisher) && pc.connectionState !== 'connected') this.restart();
      }, DISCONNECTED_GRACE_MS);
    }
  }

  /** Close the connection and connect again in full (the server has no ICE restart). */
  restart() {
    if (this.closed) return;
    this.teardown();
    this.setState('reconnecting');
    this.scheduleRestart(0);
  }

  scheduleRestart(delay) {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    const wait = delay ?? Math.min(10_000, 1000 * 2 ** this.attempt);
    this.attempt += 1;
    this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    this.retryTimer = setTimeout(() => {
      if (this.closed) return;
      this.teardown();
      this.start();
    }, wait);
  }

  teardown() {
    if (this.offerOrigin?.id) this.deadOrigins.add(this.offerOrigin.id); // its late offers are stale
    clearTimeout(this.graceTimer);
    clearTimeout(this.offerTimer);
    if (this.pc) {
      this.pc.close();
      this.pc = null;
    }
    if (this.publisher) {
      this.publisher.close();
      this.publisher = null;
    }
    this.queue = Promise.resolve();
    this.events.onRemote(new Map());
  }

  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.teardown();
    this.setState('idle');
  }

  setTracks(tracks) {
    this.tracks = Array.isArray(tracks) ? tracks : [];
  }

  handleOffer(sdp) {
    this.queue = this.queue.then(() => this.answer(sdp)).catch((error) => {
      console.warn('answering the offer failed', error);
      this.restart();
    });
  }

  handleCandidate(payload) {
    const ready = this.ready;
    if (!ready) return;
    ready
      .then((pc) => pc.addIceCandidate(JSON.parse(payload)))
      .catch((error) => console.warn('a candidate from the media server was refused', error));
  }

  async answer(sdp) {
    if (!this.ready) return;
    let pc = await this.ready;
    if (pc !== this.pc || pc.signalingState === 'closed') return;
    // Each server-side connection has its own o= session id, and counts its offers in the version.
    const origin = sdpOrigin(sdp);
    if (origin && this.deadOrigins.has(origin.id)) return; // from a connection thrown away
    if (origin && this.offerOrigin.id !== null && origin.id !== this.offerOrigin.id) {
      // The server started over with a new connection for us: so do we (without asking again).
      this.deadOrigins.add(this.offerOrigin.id);
      pc.close();
      pc = this.newPeerConnection();
      this.ready = Promise.resolve(pc);
      this.events.onRemote(new Map());
    }
    if (origin && origin.id === this.offerOrigin.id && origin.version <= this.offerOrigin.version) return;
    if (origin) this.offerOrigin = origin;
    clearTimeout(this.offerTimer);
    await pc.setRemoteDescription({ type: 'offer', sdp });
    this.assignTransceivers(pc, offeredDirections(sdp));
    await pc.setLocalDescription(await pc.createAnswer());
    await gatheringComplete(pc, GATHERING_CAP_MS);
    if (pc !== this.pc) return;
    await this.api.sendSignal(this.mediaServerId, 'ANSWER', pc.localDescription.sdp);
    this.publishRemote();
    this.events.onAnswered?.();
  }

  /** Our camera and microphone go on the m-lines the server receives on (not listed in
   * MEDIA_TRACKS); the others bring someone else's audio or video to us. */
  assignTransceivers(pc, directions) {
    const remoteMids = new Set(this.tracks.map((t) => String(t.mid)));
    const live = pc.getTransceivers().filter((tr) => tr.mid !== null && !tr.stopped && tr.currentDirection !== 'stopped');
    const sendOn = {};
    for (const kind of this.separate ? [] : ['audio', 'video']) {
      const candidates = live.filter((tr) => tr.receiver.track.kind === kind && !remoteMids.has(tr.mid));
      const takesOurs = (tr) => ['recvonly', 'sendrecv'].includes(directions.get(tr.mid));
      const current = candidates.find((tr) => tr.sender.track && takesOurs(tr)); // keep what already sends
      sendOn[kind] =
        current ||
        candidates.find((tr) => directions.get(tr.mid) === 'recvonly') ||
        candidates.find((tr) => directions.get(tr.mid) === 'sendrecv');
    }
    for (const tr of live) {
      const offered = directions.get(tr.mid) || 'inactive';
      const kind = tr.receiver.track.kind;
      if (tr === sendOn[kind]) {
        const track = this.local.track(kind);
        if (tr.sender.track !== track) tr.sender.replaceTrack(track).catch(() => {});
        if (tr.sender.setStreams) tr.sender.setStreams(this.local.stream);
        tr.direction = offered === 'recvonly' ? 'sendonly' : 'sendrecv';
      } else {
        if (tr.sender.track) tr.sender.replaceTrack(null).catch(() => {});
        tr.direction = offered === 'sendonly' || offered === 'sendrecv' ? 'recvonly' : 'inactive';
      }
    }
  }

  /** A new camera or microphone: send it instead, no renegotiation needed. */
  replaceLocal(kind, track) {
    if (this.publisher) {
      for (const tr of this.publisher.getTransceivers()) {
        if (tr.receiver.track.kind === kind && !tr.stopped) tr.sender.replaceTrack(track).catch(() => {});
      }
      return;
    }
    if (!this.pc) return;
    for (const tr of this.pc.getTransceivers()) {
      if (tr.receiver.track.kind === kind && tr.sender.track && !tr.stopped) {
        tr.sender.replaceTrack(track).catch(() => {});
      }
    }
  }

  /** participantId → {audio, video} tracks, from the transceivers' mids and the latest MEDIA_TRACKS. */
  remote() {
    const out = new Map();
    if (!this.pc) return out;
    const byMid = new Map(this.tracks.map((t) => [String(t.mid), t]));
    for (const tr of this.pc.getTransceivers()) {
      const info = tr.mid !== null && byMid.get(tr.mid);
      if (!info || tr.stopped || tr.currentDirection === 'stopped' || tr.currentDirection === 'inactive') continue;
      const entry = out.get(info.participantId) || { audio: null, video: null, info };
      entry[tr.receiver.track.kind] = tr.receiver.track;
      out.set(info.participantId, entry);
    }
    return out;
  }

  publishRemote() {
    this.events.onRemote(this.remote());
  }

  /** The candidate types of the pair in use ({local, remote}: host, srflx, prflx or relay), or null. */
  async route() {
    if (!this.pc) return null;
    const report = await this.pc.getStats();
    let pairId = null;
    report.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    const pair = pairId && report.get(pairId);
    if (!pair) return null;
    return { local: report.get(pair.localCandidateId)?.candidateType, remote: report.get(pair.remoteCandidateId)?.candidateType };
  }

  /** Frames decoded per participant's incoming video (for tests and troubleshooting). */
  async stats() {
    if (!this.pc) return [];
    const byMid = new Map(this.tracks.map((t) => [String(t.mid), t]));
    const out = [];
    for (const tr of this.pc.getTransceivers()) {
      const info = tr.mid !== null && byMid.get(tr.mid);
      if (!info || tr.receiver.track.kind !== 'video' || tr.stopped) continue;
      let framesDecoded = 0;
      const report = await tr.receiver.getStats();
      report.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') framesDecoded += s.framesDecoded || 0;
      });
      out.push({ participantId: info.participantId, name: info.name, mid: tr.mid, framesDecoded });
    }
    return out;
  }
}
