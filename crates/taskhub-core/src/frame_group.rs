//! Frames committed together, as the live ring carries them: one item, one buffer.
//!
//! A subscriber reading the ring pays for each item it takes (the slot's lock, the item's
//! reference count) and for each piece of bytes it queues (another count, bumped and
//! dropped again once written). With one item per group of frames, and every frame's
//! typed bytes back to back in one buffer, a subscriber that wants a run of consecutive
//! frames queues them as one slice: those costs are paid per group, not per event.

use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::EventFrame;

/// Frames with consecutive positions in the log, their typed bytes in one buffer.
#[derive(Debug)]
pub struct FrameGroup {
    frames: Vec<EventFrame>,
    /// Every frame's typed bytes, in order; each frame's own bytes are a slice of it.
    typed: Bytes,
    /// Where each frame's bytes start in `typed`, and where the last one ends.
    bounds: Vec<usize>,
    /// The number of frames pushed to the ring before this group's first.
    first_seq: u64,
}

impl FrameGroup {
    /// Packs `frames` into groups of at most `max_bytes` each (a larger frame is a group
    /// of its own), numbered from `first_seq`. The frames' bytes are copied once, here.
    pub fn pack(frames: &[Arc<EventFrame>], max_bytes: usize, first_seq: u64) -> Vec<Self> {
        let mut groups = Vec::new();
        let mut seq = first_seq;
        let mut rest = frames;
        while !rest.is_empty() {
            let mut size = 0;
            let count = rest
                .iter()
                .take_while(|frame| {
                    let fits = size == 0 || size + frame.typed().len() <= max_bytes;
                    size += frame.typed().len();
                    fits
                })
                .count();
            let (these, after) = rest.split_at(count);
            groups.push(Self::new(these, seq));
            seq += count as u64;
            rest = after;
        }
        groups
    }

    fn new(frames: &[Arc<EventFrame>], first_seq: u64) -> Self {
        let size = frames.iter().map(|frame| frame.typed().len()).sum();
        let mut buffer = BytesMut::with_capacity(size);
        let mut bounds = Vec::with_capacity(frames.len() + 1);
        for frame in frames {
            bounds.push(buffer.len());
            buffer.extend_from_slice(&frame.typed());
        }
        bounds.push(buffer.len());
        let typed = buffer.freeze();
        let frames = frames
            .iter()
            .zip(&bounds)
            .map(|(frame, start)| frame.moved_into(&typed, *start))
            .collect();
        Self {
            frames,
            typed,
            bounds,
            first_seq,
        }
    }

    pub fn frames(&self) -> &[EventFrame] {
        &self.frames
    }

    /// The number of frames pushed to the ring up to and including this group's last.
    pub fn end_seq(&self) -> u64 {
        self.first_seq + self.frames.len() as u64
    }

    /// The typed bytes of `self.frames()[range]`, as one slice of the shared buffer.
    ///
    /// # Panics
    /// If `range` reaches past the group.
    pub fn typed_run(&self, range: Range<usize>) -> Bytes {
        self.typed
            .slice(self.bounds[range.start]..self.bounds[range.end.max(range.start)])
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::{EventId, EventType};

    fn frame(id: u64, padding: usize) -> Arc<EventFrame> {
        let event_type = EventType::parse("note").expect("valid");
        let envelope = format!("{{\"id\":\"{id}\",\"pad\":\"{}\"}}", "x".repeat(padding));
        Arc::new(EventFrame::new(
            EventId::new(id),
            event_type,
            None,
            false,
            &envelope,
        ))
    }

    proptest! {
        /// Packing keeps every frame, in order, byte for byte; groups respect the size
        /// bound unless a single frame exceeds it; every run reads as the frames' bytes
        /// end to end; sequence numbers are consecutive.
        #[test]
        fn packing_keeps_the_frames_and_runs_are_their_bytes(
            paddings in prop::collection::vec(0usize..300, 0..40),
            max_bytes in 1usize..2_000,
            first_seq in 0u64..1_000,
        ) {
            let frames: Vec<_> = paddings.iter().enumerate()
                .map(|(i, padding)| frame(i as u64 + 1, *padding))
                .collect();
            let groups = FrameGroup::pack(&frames, max_bytes, first_seq);
            let mut seq = first_seq;
            let mut packed = Vec::new();
            for group in &groups {
                prop_assert!(!group.frames().is_empty());
                prop_assert_eq!(group.first_seq, seq);
                seq = group.end_seq();
                let size: usize = group.frames().iter().map(|f| f.typed().len()).sum();
                prop_assert!(size <= max_bytes || group.frames().len() == 1);
                let n = group.frames().len();
                for start in 0..n {
                    for end in start + 1..=n {
                        let expected: Vec<u8> = group.frames()[start..end]
                            .iter()
                            .flat_map(|f| f.typed().to_vec())
                            .collect();
                        prop_assert_eq!(group.typed_run(start..end).to_vec(), expected);
                    }
                }
                packed.extend(group.frames().iter().map(|f| (f.id(), f.typed())));
            }
            prop_assert_eq!(seq, first_seq + frames.len() as u64);
            let original: Vec<_> = frames.iter().map(|f| (f.id(), f.typed())).collect();
            prop_assert_eq!(packed, original);
        }
    }

    #[test]
    fn a_grouped_frame_builds_its_other_encodings_from_its_own_bytes() {
        let groups = FrameGroup::pack(&[frame(1, 3), frame(2, 5)], 10_000, 0);
        let [group] = &groups[..] else {
            panic!("one group, got {}", groups.len());
        };
        let second = &group.frames()[1];
        assert_eq!(second.untyped(), frame(2, 5).untyped());
        assert_eq!(second.mercure(), frame(2, 5).mercure());
        assert_eq!(second.envelope(), frame(2, 5).envelope());
    }
}
