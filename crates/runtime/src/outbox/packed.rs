//! Several records in one outbox row.
//!
//! A change that emits many records at once (a batch of sends) stores them in a few rows
//! rather than one row each: a row insert, a read and a delete per record were most of
//! what the outbox cost the database. Such a row has the topic [`PACKED_TOPIC`], which
//! no bus accepts as a topic name (Kafka allows only `[a-zA-Z0-9._-]`), and its payload
//! is the records in their order: a version byte, then per record the topic, the key
//! and the payload, each as a little-endian `u32` length and its bytes.

use super::OutboxRecord;

/// The topic of a row that holds packed records.
pub(super) const PACKED_TOPIC: &str = "*packed";
/// Records per packed row.
pub(super) const MAX_RECORDS: usize = 128;
/// Payload bytes per packed row (a single larger record gets a row of its own).
pub(super) const MAX_BYTES: usize = 64 * 1024;

const VERSION: u8 = 1;

/// The records in groups to store as rows, each group packable, in their order.
pub(super) fn groups(records: Vec<(OutboxRecord, i64)>) -> Vec<Vec<(OutboxRecord, i64)>> {
    let mut groups: Vec<Vec<(OutboxRecord, i64)>> = Vec::new();
    let mut bytes = 0;
    for (record, at_ms) in records {
        let size = encoded_len(&record);
        let fits = groups
            .last()
            .is_some_and(|group| group.len() < MAX_RECORDS && bytes + size <= MAX_BYTES);
        if !fits {
            groups.push(Vec::new());
            bytes = 1;
        }
        bytes += size;
        groups
            .last_mut()
            .expect("just pushed")
            .push((record, at_ms));
    }
    groups
}

fn encoded_len(record: &OutboxRecord) -> usize {
    12 + record.topic.len() + record.key.len() + record.payload.len()
}

/// The payload of a packed row holding `records`.
pub(super) fn pack<'a>(records: impl IntoIterator<Item = &'a OutboxRecord>) -> Vec<u8> {
    let mut out = vec![VERSION];
    for record in records {
        for part in [
            record.topic.as_bytes(),
            record.key.as_bytes(),
            &record.payload,
        ] {
            let len = u32::try_from(part.len()).expect("an outbox record part under 4 GiB");
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

/// The records of a packed row's payload, in their order.
pub(super) fn unpack(payload: &[u8]) -> anyhow::Result<Vec<OutboxRecord>> {
    let Some((&version, mut rest)) = payload.split_first() else {
        anyhow::bail!("an empty packed outbox row");
    };
    anyhow::ensure!(
        version == VERSION,
        "a packed outbox row of unknown version {version}"
    );
    let mut records = Vec::new();
    while !rest.is_empty() || records.is_empty() {
        let topic = take_part(&mut rest)?;
        let key = take_part(&mut rest)?;
        let payload = take_part(&mut rest)?.to_vec();
        records.push(OutboxRecord {
            topic: String::from_utf8(topic.to_vec())?,
            key: String::from_utf8(key.to_vec())?,
            payload,
        });
    }
    Ok(records)
}

/// The next length-prefixed part of `rest`, which moves past it.
fn take_part<'a>(rest: &mut &'a [u8]) -> anyhow::Result<&'a [u8]> {
    let (len, after) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| anyhow::anyhow!("a packed outbox row cut short"))?;
    let len = u32::from_le_bytes(*len) as usize;
    anyhow::ensure!(after.len() >= len, "a packed outbox row cut short");
    let (part, after) = after.split_at(len);
    *rest = after;
    Ok(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(topic: &str, key: &str, payload: &[u8]) -> OutboxRecord {
        OutboxRecord {
            topic: topic.into(),
            key: key.into(),
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn records_come_back_as_they_went_in() {
        let records = vec![
            record("message.events", "c_1", b"{\"a\":1}"),
            record("message.events", "c_2", b""),
            record("other", "", &[0, 255, 7]),
        ];
        assert_eq!(unpack(&pack(&records)).unwrap(), records);
    }

    #[test]
    fn damaged_payloads_are_refused() {
        let packed = pack(&[record("t", "k", b"payload")]);
        assert!(unpack(&[]).is_err());
        assert!(unpack(&packed[..packed.len() - 1]).is_err(), "cut short");
        let mut newer = packed.clone();
        newer[0] = 2;
        assert!(unpack(&newer).is_err(), "unknown version");
        assert!(unpack(&[VERSION]).is_err(), "no record");
    }

    #[test]
    fn groups_keep_the_order_and_respect_both_bounds() {
        let many: Vec<(OutboxRecord, i64)> = (0..300)
            .map(|i| (record("t", &format!("k{i}"), b"x"), i))
            .collect();
        let sizes: Vec<usize> = groups(many.clone()).iter().map(Vec::len).collect();
        assert_eq!(sizes, [128, 128, 44]);
        let flat: Vec<i64> = groups(many)
            .into_iter()
            .flatten()
            .map(|(_, at)| at)
            .collect();
        assert_eq!(flat, (0..300).collect::<Vec<_>>());

        let big = vec![0_u8; 40 * 1024];
        let large: Vec<(OutboxRecord, i64)> = (0..3).map(|i| (record("t", "k", &big), i)).collect();
        let sizes: Vec<usize> = groups(large).iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, 1, 1], "two 40 KiB records exceed a row");
        let huge = vec![(record("t", "k", &vec![0_u8; MAX_BYTES * 2]), 0)];
        assert_eq!(
            groups(huge).len(),
            1,
            "an oversized record gets its own row"
        );
    }
}
