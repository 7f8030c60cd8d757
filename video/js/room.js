// The room: leaving, staff admitting and removing, who waits, the tiles and who speaks.
import { h } from '/app/lib/dom.js';
import { t } from './i18n.js';
import { sharedAudioContext, unlockAudio } from './media.js';
import { $, SPEAKER_HOLD_MS, SPEAKING_LEVEL, app } from './state.js';
import { request } from './connection.js';
import { local, localLevel, newLevel, stopEverything } from './devices.js';
import { announce, kindLabel, setPhase, showAlert } from './page.js';

let heardAt = 0;
let speaker = { id: null, since: 0 };
export const tiles = new Map(); // participantId → tile parts

// ---------------------------------------------------------------------------------------------
// Leaving

export async function leave() {
  app.leaving = true;
  try {
    await request('LeaveMeeting');
  } catch {
    // the stream ending makes us away anyway
  }
  stopEverything();
  setPhase('left');
}

/** The meeting is over (staff cancelled it): everything stops, and the page says so in words. */
export function closed() {
  if (app.phase === 'closed') return;
  app.leaving = true;
  stopEverything();
  $('notice').textContent = ''; // an earlier notice ("Du är insläppt …") would contradict it
  setPhase('closed'); // its heading takes the focus: screen readers read it
}

export function removed() {
  app.leaving = true;
  stopEverything();
  setPhase('removed');
  announce(t('removedTitle'));
}

// ---------------------------------------------------------------------------------------------
// Staff: admitting and removing

async function admit(participantId, button) {
  button.disabled = true;
  try {
    await request('AdmitToMeeting', { participantId });
  } catch (problem) {
    showAlert(problem);
    button.disabled = false;
  }
}

async function removeParticipant(participantId, button) {
  const name = app.roster.get(participantId)?.name || '';
  if (!window.confirm(t('confirmRemove', { name }))) return;
  button.disabled = true;
  try {
    await request('RemoveFromMeeting', { participantId });
  } catch (problem) {
    showAlert(problem);
    button.disabled = false;
  }
}

export function renderRoom() {
  if (app.phase !== 'room') return;
  renderWaiting();
  renderTiles();
}

function renderWaiting() {
  const section = $('waiting');
  section.hidden = !app.isStaff;
  if (!app.isStaff) return;
  const waiting = [...app.roster.values()].filter((p) => p.state === 'WAITING');
  const title = $('waiting-title');
  title.textContent = waiting.length ? `${t('waitingListTitle')} (${waiting.length})` : t('nobodyWaiting');
  section.classList.toggle('empty', !waiting.length);
  const list = $('waiting-list');
  const hadFocus = list.contains(document.activeElement);
  list.replaceChildren();
  list.hidden = !waiting.length;
  for (const person of waiting) {
    const who = h('p', { class: 'waiting-who' }, person.name, h('span', {}, person.role || kindLabel(person.kind)));
    const admitButton = button(t('admit'), person.name, 'btn btn-primary', (b) => admit(person.participantId, b));
    const removeButton = button(t('remove'), person.name, 'btn', (b) => removeParticipant(person.participantId, b));
    list.append(h('li', {}, who, admitButton, removeButton));
  }
  if (hadFocus) {
    const next = list.querySelector('button');
    if (next) next.focus();
    else {
      title.tabIndex = -1;
      title.focus();
    }
  }
}

/** A button whose name says whom it is about: "Släpp in Elsa Andersson". */
function button(label, whom, className, onClick) {
  const b = h('button', { type: 'button', class: className }, label,
    whom ? h('span', { class: 'visually-hidden' }, ` ${whom}`) : null);
  b.addEventListener('click', () => onClick(b));
  return b;
}

function renderTiles() {
  const list = $('tiles');
  const others = [...app.roster.values()].filter(
    (p) => p.state === 'IN_ROOM' && p.participantId !== app.me.participantId,
  );
  for (const [id, remote] of app.remote) {
    if (id !== app.me.participantId && !others.some((p) => p.participantId === id)) {
      others.push({ participantId: id, name: remote.info.name, kind: remote.info.kind, role: remote.info.role,
        audio: true, video: true });
    }
  }
  const wanted = [...others.map((p) => p.participantId), 'self']; // the others first: they matter most
  for (const [id, tile] of tiles) {
    if (!wanted.includes(id)) {
      tile.level?.close();
      tile.li.remove();
      tiles.delete(id);
    }
  }
  const me = app.roster.get(app.me.participantId);
  updateTile('self', {
    name: t('youSuffix', { name: app.me.name }),
    role: me?.role || kindLabel(me?.kind),
    audio: local.audioOn && Boolean(local.track('audio')),
    video: local.videoOn && Boolean(local.track('video')),
  }, { video: local.track('video') ? local.stream : null });
  for (const p of others) {
    const remote = app.remote.get(p.participantId);
    updateTile(p.participantId, {
      name: p.name,
      role: p.role || kindLabel(p.kind),
      audio: p.audio !== false,
      video: p.video !== false && Boolean(remote?.video),
      connecting: !remote,
    }, { videoTrack: remote?.video || null, audioTrack: remote?.audio || null });
  }
  for (const id of wanted) list.append(tiles.get(id).li); // in order (moves only what moved)
  $('alone').hidden = others.length > 0;
}

function makeTile(id) {
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true; // sound comes from the <audio> element
  video.setAttribute('playsinline', '');
  video.setAttribute('aria-hidden', 'true');
  const placeholder = h('p', { class: 'tile-placeholder' });
  const speaking = h('p', { class: 'tile-speaking' });
  const name = h('p', { class: 'tile-name' });
  const role = h('p', { class: 'tile-role' });
  const state = h('p', { class: 'tile-state' });
  const li = h('li', { class: id === 'self' ? 'tile self' : 'tile' },
    video, placeholder, speaking, h('div', { class: 'tile-label' }, name, role, state));
  const tile = { li, video, placeholder, speaking, name, role, state, audio: null, videoTrack: null,
    audioTrack: null, level: null, removeButton: null };
  if (id !== 'self') {
    tile.audio = document.createElement('audio');
    tile.audio.autoplay = true;
    li.append(tile.audio);
  }
  tiles.set(id, tile);
  return tile;
}

function updateTile(id, info, media) {
  const tile = tiles.get(id) || makeTile(id);
  tile.name.textContent = info.name;
  tile.role.textContent = info.role || '';
  const states = [];
  if (!info.audio) states.push(t('micIsOff'));
  if (id !== 'self' && info.video === false && !info.connecting) states.push(t('cameraIsOff'));
  tile.state.textContent = states.join(' · ');
  tile.speaking.textContent = t('speaking');
  if (id === 'self') {
    if (tile.video.srcObject !== media.video) tile.video.srcObject = media.video;
    tile.placeholder.textContent = info.video ? '' : t('cameraIsOff');
    tile.placeholder.hidden = info.video;
    tile.video.hidden = !info.video;
  } else {
    if (tile.videoTrack !== media.videoTrack) {
      tile.videoTrack = media.videoTrack;
      tile.video.srcObject = media.videoTrack ? new MediaStream([media.videoTrack]) : null;
      tile.video.play?.().catch(() => {});
    }
    if (tile.audioTrack !== media.audioTrack) {
      tile.audioTrack = media.audioTrack;
      tile.audio.srcObject = media.audioTrack ? new MediaStream([media.audioTrack]) : null;
      playSound(tile.audio);
      tile.level = newLevel(tile.level, media.audioTrack);
    }
    const showVideo = Boolean(media.videoTrack) && info.video;
    tile.video.hidden = !showVideo;
    tile.placeholder.hidden = showVideo;
    tile.placeholder.textContent = info.connecting ? t('connectingMedia') : info.video ? t('noMediaYet') : t('cameraIsOff');
    const canRemove = app.isStaff;
    if (canRemove && !tile.removeButton) {
      tile.removeButton = button(t('remove'), info.name, 'btn btn-small', (b) => removeParticipant(id, b));
      tile.li.append(tile.removeButton);
    }
    if (tile.removeButton) {
      tile.removeButton.firstChild.textContent = t('remove');
      tile.removeButton.lastChild.textContent = ` ${info.name ?? ''}`;
    }
  }
}

/** Play someone's sound; where the browser wants a tap first, show a button that asks for one. */
function playSound(audio) {
  if (!audio.srcObject) return;
  const playing = audio.play?.();
  playing?.catch((error) => {
    if (error?.name === 'NotAllowedError') $('sound').hidden = false;
  });
}

export function onSoundTap() {
  unlockAudio();
  $('sound').hidden = true;
  for (const tile of tiles.values()) if (tile.audio) playSound(tile.audio);
}

// Sound levels: the lobby's meter, and who speaks in the room (the loudest, held a moment).
export function tick() {
  const level = localLevel?.value() || 0;
  if (!$('view-lobby').hidden) {
    $('meter-bar').style.setProperty('--level', Math.min(1, level * 2.5).toFixed(3));
    if (level > SPEAKING_LEVEL) heardAt = Date.now();
    let key = 'hearNothing';
    if (!local.track('audio')) key = 'noMicrophone';
    else if (!local.audioOn) key = 'micIsOff';
    else if (sharedAudioContext()?.state === 'suspended') key = 'meterPaused';
    else if (Date.now() - heardAt < 2000) key = 'hearYou';
    if ($('meter-text').dataset.key !== key) {
      $('meter-text').dataset.key = key;
      $('meter-text').textContent = t(key);
    }
  }
  if (app.phase !== 'room') return;
  let loudest = null;
  let loudestLevel = SPEAKING_LEVEL;
  for (const [id, tile] of tiles) {
    const value = id === 'self' ? level : tile.level?.value() || 0;
    if (value > loudestLevel) {
      loudest = id;
      loudestLevel = value;
    }
  }
  const now = Date.now();
  if (loudest && loudest !== speaker.id) speaker = { id: loudest, since: now };
  else if (loudest) speaker.since = now;
  else if (speaker.id && now - speaker.since > SPEAKER_HOLD_MS) speaker = { id: null, since: now };
  for (const [id, tile] of tiles) tile.li.classList.toggle('speaking', id === speaker.id);
}
