//! `notes_delete`: delete one of the caller's notes, after the user
//! confirms it (MCP elicitation). Nothing is deleted without a yes from the
//! user: a client that cannot ask gets an error, and the note stays.

use toolhost_sdk::prelude::*;

/// Arguments of `notes_delete`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Input {
    /// The id of the note (from notes_list or notes_create).
    #[schemars(length(min = 1, max = 64))]
    id: String,
}

/// A note as notes_create stores it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Note {
    title: String,
}

/// What happened.
#[derive(Serialize, JsonSchema)]
struct Outcome {
    id: String,
    /// True when the note is gone.
    deleted: bool,
    /// What the user answered: `confirmed`, `refused` or `dismissed`.
    answer: String,
}

struct NotesDelete;

impl Tool for NotesDelete {
    type Input = Input;
    type Output = Outcome;

    fn describe() -> Describe {
        Describe::new(
            "notes_delete",
            "Delete one of the caller's notes by id. The user is asked to confirm first; the note \
             stays unless they do.",
        )
        .title("Delete a note")
        .roles(["member"])
        .read_only(false)
        .destructive(true)
        .idempotent(true)
        .open_world(false)
    }

    fn call(ctx: &Context, input: Input) -> Result<Outcome, ToolError> {
        let notes = ctx.bucket("notes");
        let key = format!("note:{}", input.id);
        let note: Note = notes
            .get_json(&key)?
            .ok_or_else(|| ToolError::NotFound(format!("no note with id {:?}", input.id)))?;
        let question = format!("Delete the note \"{}\"? This cannot be undone.", note.title);
        let schema = toolhost_sdk::serde_json::json!({
            "type": "object",
            "properties": {
                "confirm": {
                    "type": "boolean",
                    "title": "Delete it",
                    "description": "Tick to delete the note",
                    "default": false
                }
            },
            "required": ["confirm"]
        });
        let answer = ctx.elicit(&question, &schema).map_err(|e| {
            ToolError::Failed(format!(
                "cannot ask the user to confirm ({e}); the note was not deleted"
            ))
        })?;
        let answer = match answer {
            Elicitation::Accepted(form) if form["confirm"] == true => "confirmed",
            Elicitation::Accepted(_) | Elicitation::Declined => "refused",
            Elicitation::Cancelled => "dismissed",
        };
        let deleted = answer == "confirmed" && notes.delete(&key)?;
        if deleted {
            // Clients that subscribed to the note hear that it is gone.
            ctx.resource_updated(&format!("notes://{}", input.id));
        }
        Ok(Outcome {
            id: input.id,
            deleted,
            answer: answer.to_owned(),
        })
    }

    fn render(outcome: &Outcome) -> String {
        if outcome.deleted {
            format!("Deleted note {}.", outcome.id)
        } else {
            format!(
                "Note {} was not deleted: the user {} the deletion.",
                outcome.id, outcome.answer
            )
        }
    }
}

toolhost_sdk::export_tool!(NotesDelete);
