//! Test audio for calls between real clients: a pure tone written as a WAV file for a client to
//! send, the WAV file a client recorded read back, the strength of a frequency in it measured
//! with the Goertzel algorithm, and G.711 μ-law (ITU-T G.711 §3), to know the bytes a tone makes
//! on the wire.
//!
//! A test sends a different tone from each side (say 697 Hz and 1209 Hz) and checks that each
//! side's recording holds the other's tone:
//!
//! ```no_run
//! use tests::audio::{write_tone_wav, Wav};
//!
//! write_tone_wav("/tmp/a.wav".as_ref(), 697.0, 20.0)?;
//! // … a call in which the other side records /tmp/b-received.wav …
//! let got = Wav::read("/tmp/b-received.wav".as_ref())?.tone(697.0);
//! assert!(got.strength > 0.5 && got.seconds_with_tone > 2.0, "{got:?}");
//! # Ok::<(), String>(())
//! ```

use std::path::Path;
use std::time::Duration;

/// The sample rate of G.711 (and of the tones [`write_tone_wav`] writes).
pub const G711_RATE: u32 = 8000;

/// The amplitude of [`write_tone_wav`]'s tones: half of full scale, well clear of clipping.
const TONE_AMPLITUDE: f64 = 16384.0;

/// The length of the blocks [`analyse_tone`] measures one by one (50 ms: a bin of 20 Hz).
const BLOCK: Duration = Duration::from_millis(50);

/// A block counts as carrying the tone when at least this share of its energy is at the tone's
/// frequency.
const TONE_SHARE: f64 = 0.5;

/// G.711 μ-law (G.711 §3): the byte of a 16-bit linear sample, as the classic reference encoder
/// computes it (bias 0x84, magnitude clipped at 32635, the result inverted).
pub fn mulaw_encode(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let s = i32::from(sample);
    let sign: i32 = if s < 0 { 0x80 } else { 0 };
    let magnitude = s.abs().min(CLIP) + BIAS;
    // The segment: the highest set bit among bits 7..=14 (bit 7 is always set by the bias).
    let exponent = (0..8)
        .rev()
        .find(|e| magnitude & (1 << (e + 7)) != 0)
        .unwrap_or(0);
    let mantissa = (magnitude >> (exponent + 3)) & 0x0F;
    // In 0..=0xFF by construction: sign 0x80, exponent < 8 shifted by 4, mantissa < 16.
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// G.711 μ-law to a 16-bit linear sample (the middle of the byte's interval).
pub fn mulaw_decode(byte: u8) -> i16 {
    let u = !byte;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i16::from(u & 0x0F);
    // At most ((15 << 3) + 0x84) << 7 = 32256: fits.
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    if u & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// The μ-law bytes of `samples`: the RTP payload a PCMU sender makes of them.
pub fn mulaw_encode_all(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| mulaw_encode(s)).collect()
}

/// What a PCMU sender of `samples` (8 kHz, 20 ms packets, from the first sample on) puts at
/// the start of each packet's payload: the μ-law bytes of the first `run` samples of each 20 ms
/// frame. A capture holding some of these in UDP payloads carries that audio in clear.
pub fn pcmu_frame_runs(samples: &[i16], run: usize) -> Vec<Vec<u8>> {
    let frame = (G711_RATE / 50) as usize;
    samples
        .chunks_exact(frame)
        .map(|f| mulaw_encode_all(&f[..run.min(frame)]))
        .collect()
}

/// `seconds` of a sine of `freq` Hz at `sample_rate`, half of full scale, each sample rounded to
/// a μ-law level (the value [`mulaw_decode`] gives): any G.711 μ-law encoder, whatever its
/// rounding at the interval boundaries, then turns it into exactly [`mulaw_encode_all`]'s bytes,
/// so a test knows the PCMU payload to look for on the wire.
pub fn tone_samples(freq: f64, seconds: f64, sample_rate: u32) -> Vec<i16> {
    let n = (seconds * f64::from(sample_rate)).round().max(0.0) as usize;
    let step = 2.0 * std::f64::consts::PI * freq / f64::from(sample_rate);
    (0..n)
        .map(|i| {
            // |sin| <= 1, times half of full scale: within i16.
            let linear = (TONE_AMPLITUDE * (step * i as f64).sin()).round() as i16;
            mulaw_decode(mulaw_encode(linear))
        })
        .collect()
}

/// Writes `samples` as a WAV file: PCM, 16-bit little-endian, mono, `sample_rate`.
pub fn write_wav(path: &Path, sample_rate: u32, samples: &[i16]) -> Result<(), String> {
    let data_len = u32::try_from(samples.len() * 2)
        .ok()
        .filter(|&n| n <= u32::MAX - 36)
        .ok_or_else(|| format!("{}: too many samples for a WAV file", path.display()))?;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * 2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, out).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Writes `seconds` of a `freq` Hz tone at 8 kHz ([`tone_samples`]) to `path` and returns the
/// samples. The clients send a file once, from its start: make it longer than the call (baresip
/// 1.0 ends the call when its source file runs out).
pub fn write_tone_wav(path: &Path, freq: f64, seconds: f64) -> Result<Vec<i16>, String> {
    let samples = tone_samples(freq, seconds, G711_RATE);
    write_wav(path, G711_RATE, &samples)?;
    Ok(samples)
}

/// Whether the WAV file at `path` is complete: the length of its `data` chunk, which writers
/// fill in when they close the file, is set and reaches the end of the file. (libsndfile writes
/// the exact length; mediastreamer2 5.1 counts its header's 44 bytes in.)
pub fn wav_complete(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return false;
    }
    let mut at = 12;
    while let (Some(id), Some(len)) = (bytes.get(at..at + 4), le_u32(&bytes, at + 4)) {
        let body = at + 8;
        if id == b"data" {
            return len > 0 && len as usize >= bytes.len().saturating_sub(body);
        }
        at = body
            .saturating_add(len as usize)
            .saturating_add(len as usize & 1);
    }
    false
}

/// The power at `freq` in `block` (Goertzel), scaled so that a sine of that frequency alone gives
/// the block's energy (the sum of its squares): `2·|X(f)|² / N`.
pub fn goertzel_power(block: &[f64], sample_rate: u32, freq: f64) -> f64 {
    if block.is_empty() {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(sample_rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in block {
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power / block.len() as f64
}

/// How strongly a frequency is present in some audio ([`analyse_tone`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ToneReport {
    /// The frequency looked for, Hz.
    pub freq: f64,
    /// The share of the audio's energy at that frequency, 0..=1 (about 1 for the tone alone,
    /// 0 for silence or other sounds).
    pub strength: f64,
    /// Seconds of 50 ms blocks in which the tone has at least half of the energy.
    pub seconds_with_tone: f64,
    /// Seconds of audio looked at.
    pub seconds: f64,
    /// Seconds of blocks that are all zeros (nothing received, or silence).
    pub seconds_silent: f64,
}

/// Measures `freq` in `samples` (mono, `sample_rate`) block by block (50 ms), so that gaps and
/// phase jumps between packets do not matter: see [`ToneReport`].
pub fn analyse_tone(samples: &[i16], sample_rate: u32, freq: f64) -> ToneReport {
    let block_len = ((f64::from(sample_rate) * BLOCK.as_secs_f64()) as usize).max(1);
    let (mut at_freq, mut energy) = (0.0, 0.0);
    let (mut toned, mut silent) = (0usize, 0usize);
    let mut block = Vec::with_capacity(block_len);
    for chunk in samples.chunks(block_len) {
        block.clear();
        block.extend(chunk.iter().map(|&s| f64::from(s)));
        let e: f64 = block.iter().map(|x| x * x).sum();
        if e == 0.0 {
            silent += chunk.len();
            continue;
        }
        let p = goertzel_power(&block, sample_rate, freq).min(e);
        if p >= TONE_SHARE * e {
            toned += chunk.len();
        }
        at_freq += p;
        energy += e;
    }
    let secs = |n: usize| n as f64 / f64::from(sample_rate.max(1));
    ToneReport {
        freq,
        strength: if energy > 0.0 { at_freq / energy } else { 0.0 },
        seconds_with_tone: secs(toned),
        seconds: secs(samples.len()),
        seconds_silent: secs(silent),
    }
}

/// A WAV file's audio: 16-bit PCM samples, channels interleaved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wav {
    /// Samples per second (per channel).
    pub sample_rate: u32,
    /// Channels.
    pub channels: u16,
    /// The samples, channels interleaved.
    pub samples: Vec<i16>,
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl Wav {
    /// Reads a WAV file (see [`Wav::parse`]).
    pub fn read(path: &Path) -> Result<Wav, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        Wav::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses a RIFF WAVE file of 16-bit PCM (format 1, or 0xFFFE extensible). A `data` chunk
    /// whose length is 0 or runs past the end (a writer that did not finish its header) is taken
    /// to the end of the file.
    pub fn parse(bytes: &[u8]) -> Result<Wav, String> {
        if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
            return Err("not a RIFF WAVE file".to_string());
        }
        let mut at = 12;
        let mut format: Option<(u16, u16, u32, u16)> = None;
        while let (Some(id), Some(len)) = (bytes.get(at..at + 4), le_u32(bytes, at + 4)) {
            let body = at + 8;
            let rest = bytes.len() - body.min(bytes.len());
            match id {
                b"fmt " => {
                    let f = (
                        le_u16(bytes, body).ok_or("short fmt chunk")?,
                        le_u16(bytes, body + 2).ok_or("short fmt chunk")?,
                        le_u32(bytes, body + 4).ok_or("short fmt chunk")?,
                        le_u16(bytes, body + 14).ok_or("short fmt chunk")?,
                    );
                    format = Some(f);
                }
                b"data" => {
                    let (tag, channels, sample_rate, bits) =
                        format.ok_or("data chunk before the fmt chunk")?;
                    if !(tag == 1 || tag == 0xFFFE) || bits != 16 {
                        return Err(format!(
                            "format {tag:#x} with {bits} bits per sample: only 16-bit PCM is read"
                        ));
                    }
                    let len = len as usize;
                    let len = if len == 0 || len > rest { rest } else { len };
                    let samples = bytes[body..body + len]
                        .chunks_exact(2)
                        .map(|b| i16::from_le_bytes([b[0], b[1]]))
                        .collect();
                    return Ok(Wav {
                        sample_rate,
                        channels: channels.max(1),
                        samples,
                    });
                }
                _ => {}
            }
            // Chunks are padded to an even length.
            at = body
                .saturating_add(len as usize)
                .saturating_add(len as usize & 1);
        }
        Err("no data chunk".to_string())
    }

    /// The first channel's samples.
    pub fn mono(&self) -> Vec<i16> {
        self.samples
            .iter()
            .step_by(usize::from(self.channels.max(1)))
            .copied()
            .collect()
    }

    /// How long it plays.
    pub fn duration(&self) -> Duration {
        let frames = self.samples.len() / usize::from(self.channels.max(1));
        Duration::from_secs_f64(frames as f64 / f64::from(self.sample_rate.max(1)))
    }

    /// [`analyse_tone`] of the first channel.
    pub fn tone(&self, freq: f64) -> ToneReport {
        analyse_tone(&self.mono(), self.sample_rate, freq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mulaw_reference_values() {
        // G.711 Table 2a: the end points, and zero (which encodes as 0xFF).
        assert_eq!(mulaw_encode(0), 0xFF);
        assert_eq!(mulaw_encode(-1), 0x7F);
        assert_eq!(mulaw_encode(i16::MAX), 0x80);
        assert_eq!(mulaw_encode(i16::MIN), 0x00);
        assert_eq!(mulaw_decode(0x80), 32124);
        assert_eq!(mulaw_decode(0x00), -32124);
        assert_eq!(mulaw_decode(0xFF), 0);
        // Each byte's level encodes back to the byte (but 0x7F, "-0", which is 0 = 0xFF).
        for b in 0..=255u8 {
            let want = if b == 0x7F { 0xFF } else { b };
            assert_eq!(mulaw_encode(mulaw_decode(b)), want, "byte {b:#04x}");
        }
    }

    #[test]
    fn tone_round_trips_through_a_wav_file() {
        let dir = std::env::temp_dir().join(format!("portico-audio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tone.wav");
        let sent = write_tone_wav(&path, 697.0, 1.0).unwrap();
        let wav = Wav::read(&path).unwrap();
        let complete = wav_complete(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((wav.sample_rate, wav.channels), (8000, 1));
        assert_eq!(wav.samples, sent);
        assert!(complete);
        assert_eq!(wav.duration(), Duration::from_secs(1));
        let hit = wav.tone(697.0);
        assert!(hit.strength > 0.95, "{hit:?}");
        assert!((hit.seconds_with_tone - 1.0).abs() < 1e-9, "{hit:?}");
        let miss = wav.tone(1209.0);
        assert!(miss.strength < 0.05, "{miss:?}");
        assert_eq!(miss.seconds_with_tone, 0.0, "{miss:?}");
    }

    #[test]
    fn two_tones_share_the_energy_and_silence_counts_as_silence() {
        let a = tone_samples(697.0, 1.0, 8000);
        let b = tone_samples(1209.0, 1.0, 8000);
        let mixed: Vec<i16> = a.iter().zip(&b).map(|(x, y)| x / 2 + y / 2).collect();
        let r = analyse_tone(&mixed, 8000, 697.0);
        assert!((0.4..0.6).contains(&r.strength), "{r:?}");
        let mut gappy = vec![0i16; 8000];
        gappy.extend_from_slice(&a);
        let r = analyse_tone(&gappy, 8000, 697.0);
        assert!(r.strength > 0.95, "{r:?}");
        assert!((r.seconds_silent - 1.0).abs() < 1e-9, "{r:?}");
        assert_eq!(analyse_tone(&[0; 800], 8000, 697.0).strength, 0.0);
    }

    #[test]
    fn unfinished_data_chunk_runs_to_the_end() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"RIFF\0\0\0\0WAVEfmt ");
        bytes.extend_from_slice(&16u32.to_le_bytes());
        bytes.extend_from_slice(&[1, 0, 1, 0]);
        bytes.extend_from_slice(&8000u32.to_le_bytes());
        bytes.extend_from_slice(&16000u32.to_le_bytes());
        bytes.extend_from_slice(&[2, 0, 16, 0]);
        bytes.extend_from_slice(b"data\0\0\0\0");
        bytes.extend_from_slice(&[1, 0, 0xFF, 0xFF]);
        let wav = Wav::parse(&bytes).unwrap();
        assert_eq!(wav.samples, vec![1, -1]);
        assert!(Wav::parse(b"RIFF").is_err());
    }
}
