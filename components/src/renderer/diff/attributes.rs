//! Diffing an element's attributes (form properties as properties) and its event bindings.

use crate::batch::{ComponentId, Edit, EditSink, PropertyValue};
use crate::renderer::{HandlerEntry, Renderer};
use crate::tree::{self, Attr, Binding, Shape};

fn is_property(tag: &str, name: &str) -> Option<&'static str> {
    match (tag, name) {
        ("input", "value") => Some("value"),
        ("input", "checked") => Some("checked"),
        ("option", "selected") => Some("selected"),
        _ => None,
    }
}

impl Renderer {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn diff_attrs(
        &mut self,
        component: ComponentId,
        id: u32,
        tag: &str,
        old_shape: &Shape,
        old_attrs: &[Attr],
        new_shape: &Shape,
        new_attrs: &[Attr],
    ) {
        for (i, a) in new_attrs.iter().enumerate() {
            let name = new_shape.str(a.name);
            let value = new_shape.str(a.value);
            let old_value = match old_attrs.get(i) {
                Some(o) if old_shape.str(o.name) == name => Some(old_shape.str(o.value)),
                _ => old_attrs
                    .iter()
                    .find(|o| old_shape.str(o.name) == name)
                    .map(|o| old_shape.str(o.value)),
            };
            if old_value == Some(value) {
                continue;
            }
            let edit = match is_property(tag, name) {
                Some("value") => Edit::SetProperty {
                    node: id,
                    name: "value",
                    value: PropertyValue::Text(tree::decode_entities(value)),
                },
                Some(prop) => {
                    if old_value.is_some() {
                        continue;
                    }
                    Edit::SetProperty {
                        node: id,
                        name: prop,
                        value: PropertyValue::Bool(true),
                    }
                }
                None => Edit::SetAttribute {
                    node: id,
                    name: name.to_owned(),
                    value: tree::decode_entities(value),
                },
            };
            self.pass.batch.push_edit(component, edit);
        }
        for (i, o) in old_attrs.iter().enumerate() {
            let name = old_shape.str(o.name);
            let present = match new_attrs.get(i) {
                Some(a) if new_shape.str(a.name) == name => true,
                _ => new_attrs.iter().any(|a| new_shape.str(a.name) == name),
            };
            if present {
                continue;
            }
            let edit = match is_property(tag, name) {
                Some("value") => Edit::SetProperty {
                    node: id,
                    name: "value",
                    value: PropertyValue::Text(String::new()),
                },
                Some(prop) => Edit::SetProperty {
                    node: id,
                    name: prop,
                    value: PropertyValue::Bool(false),
                },
                None => Edit::RemoveAttribute {
                    node: id,
                    name: name.to_owned(),
                },
            };
            self.pass.batch.push_edit(component, edit);
        }
    }

    /// Gives a binding on a matched element its old handler id (same event) or a fresh one.
    pub(super) fn diff_binding(
        &mut self,
        component: ComponentId,
        id: u32,
        old_bindings: &[Binding],
        binding: &mut Binding,
    ) {
        match old_bindings.iter().find(|b| b.kind == binding.kind) {
            Some(old_binding) => {
                binding.handler_id = old_binding.handler_id;
                if old_binding.render_index != binding.render_index {
                    if let Some(h) = self.handlers.get_mut(&binding.handler_id) {
                        h.index = binding.render_index;
                    }
                }
                if old_binding.flags == binding.flags {
                    return;
                }
            }
            None => {
                let handler_id = self.next_handler_id;
                self.next_handler_id += 1;
                binding.handler_id = handler_id;
                self.handlers.insert(
                    handler_id,
                    HandlerEntry {
                        component,
                        index: binding.render_index,
                        kind: binding.kind,
                    },
                );
            }
        }
        let mut value = String::new();
        tree::binding_value(binding.handler_id, binding.flags, &mut value);
        self.pass.batch.push_edit(
            component,
            Edit::SetAttribute {
                node: id,
                name: binding.kind.attribute().to_owned(),
                value,
            },
        );
    }
}
