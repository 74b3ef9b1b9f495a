//! The local server's `RotationInvoker`. Running rotation functions (Lambda `Invoke`, or local
//! rotators) arrives with the rotation stage; until then a RotateSecret stores the configuration
//! and the AWSPENDING version, and this invoker reports that no runner is configured, which the
//! service logs. The secret stays ready for a runner to pick the job up.

use async_trait::async_trait;
use coffer_core::ports::{RotationInvoker, RotationJob, RotationStartError};

pub struct NoRotationRunner;

#[async_trait]
impl RotationInvoker for NoRotationRunner {
    async fn start(&self, job: RotationJob) -> Result<(), RotationStartError> {
        Err(RotationStartError(format!(
            "no rotation runner is configured for {} (rotation function {})",
            job.secret_arn, job.lambda_arn
        )))
    }
}
