-- int_documents_keyed adds the documents delivered since its last build and replaces those
-- delivered again: it must hold exactly the register's rows. Returns each delivery whose
-- number of documents differs between the two (a row left behind shows under its old
-- delivery).
with register as (

    select delivery_id, count(*) as document_count
    from {{ ref('stg_eoffice__documents') }}
    group by delivery_id

),

keyed as (

    select delivery_id, count(*) as document_count
    from {{ ref('int_documents_keyed') }}
    group by delivery_id

)

select
    coalesce(register.delivery_id, keyed.delivery_id) as delivery_id,
    register.document_count as register_document_count,
    keyed.document_count as keyed_document_count
from register
full outer join keyed
    on register.delivery_id = keyed.delivery_id
where coalesce(register.document_count, -1) <> coalesce(keyed.document_count, -1)
