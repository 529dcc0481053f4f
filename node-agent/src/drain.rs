//! Reading the flow map: flip the epoch, let in-flight program runs finish,
//! then read and delete the old half. The kernel never writes the half being
//! read, so nothing is counted twice or lost between drains.

use coral_node_agent_common::{FlowCounters, FlowKey, Stat};

use crate::capture::FlowCapture;
use crate::error::CaptureError;
use crate::flow_record::FlowRecord;

/// One drain's result.
#[derive(Clone, Debug, Default)]
pub struct DrainReport {
    pub flows: Vec<FlowRecord>,
    /// Updates dropped because the flow map was full, since the program was
    /// loaded (cumulative: report the difference between drains).
    pub dropped_map_full_total: u64,
}

impl FlowCapture {
    /// Drains everything the kernel counted since the previous drain.
    pub fn drain(&mut self) -> Result<DrainReport, CaptureError> {
        let old = self.epoch;
        let new = old ^ 1;
        self.epoch_map.set(0, new, 0)?;
        self.epoch = new;
        std::thread::sleep(self.options.epoch_settle);

        // Collect first: deleting while walking would restart the walk.
        let old_keys: Vec<FlowKey> = self
            .flows
            .keys()
            .filter_map(Result::ok)
            .filter(|key| u32::from(key.epoch) == old)
            .collect();
        let mut flows = Vec::with_capacity(old_keys.len());
        for key in old_keys {
            let per_cpu = self.flows.get(&key, 0)?;
            let mut sum = FlowCounters::ZERO;
            for counters in per_cpu.iter() {
                sum.add(counters);
            }
            self.flows.remove(&key)?;
            flows.push(FlowRecord::new(&key, &sum));
        }
        let dropped_map_full_total = self.stats.get(&(Stat::FlowMapFull as u32), 0)?.iter().sum();
        if dropped_map_full_total > 0 {
            tracing::warn!(
                dropped_map_full_total,
                "flow map full: connections went uncounted; raise the flow map size"
            );
        }
        Ok(DrainReport {
            flows,
            dropped_map_full_total,
        })
    }
}
