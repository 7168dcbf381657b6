//! `wasi:config/store` (0.2): the values and secrets the operator set for
//! the tool being called (`[tools.<name>.config]`). A tool reads only its
//! own; nothing is readable while a component describes itself or serves a
//! resource or prompt. Values are never logged.

use super::super::bindings::v2::wasi::config::store;
use super::super::signals::ToolConfig;
use std::sync::Arc;
use wasmtime::component::{HasData, Linker};

/// Link the capability; `get` finds a call's [`ConfigCall`] in `T`.
pub(crate) fn add_to_linker<T, D>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> D::Data<'_>,
) -> wasmtime::Result<()>
where
    T: 'static,
    D: HasData,
    for<'a> D::Data<'a>: store::Host,
{
    store::add_to_linker::<T, D>(linker, get)
}

/// One call's configuration values.
#[derive(Debug, Default)]
pub(crate) struct ConfigCall {
    values: Option<Arc<ToolConfig>>,
}

impl ConfigCall {
    /// The values of `values` (none: nothing is set).
    pub(crate) fn new(values: Option<Arc<ToolConfig>>) -> Self {
        ConfigCall { values }
    }
}

impl store::Host for ConfigCall {
    fn get(&mut self, key: String) -> Result<Option<String>, store::Error> {
        let values = self.values.as_deref();
        Ok(values
            .and_then(|v| v.get(&key))
            .map(|s| s.expose().to_owned()))
    }

    fn get_all(&mut self) -> Result<Vec<(String, String)>, store::Error> {
        let values = self.values.as_deref().into_iter().flatten();
        Ok(values
            .map(|(k, v)| (k.clone(), v.expose().to_owned()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::store::Host;
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn a_call_reads_its_values_and_nothing_without_them() {
        let values = ToolConfig::from([
            ("units".to_owned(), Secret::from("metric".to_owned())),
            ("key".to_owned(), Secret::from("s3cret".to_owned())),
        ]);
        let mut call = ConfigCall::new(Some(Arc::new(values)));
        assert_eq!(call.get("units".into()).unwrap().as_deref(), Some("metric"));
        assert_eq!(call.get("other".into()).unwrap(), None);
        assert_eq!(call.get_all().unwrap().len(), 2);
        let mut none = ConfigCall::new(None);
        assert_eq!(none.get("units".into()).unwrap(), None);
        assert!(none.get_all().unwrap().is_empty());
    }
}
